// The adapter store: an in-memory cache bounded by count and bytes, with
// per-adapter TTL, least-recently-used eviction and per-tenant quotas, in
// front of an optional durable AdapterPersistence (adapter_persistence.h).
// Thread-safe.
//
// Every lookup is scoped to a tenant: another tenant's adapter is NOT_FOUND,
// exactly like one that does not exist.
//
// Without persistence (the "memory" backend) the cache is the store. With
// persistence:
//   - writes go through: Insert returns only once persistence has the
//     adapter, and fails (nothing cached) when persistence fails;
//   - a cache miss reads persistence and caches what it finds;
//   - capacity eviction drops an adapter from the cache only; Delete removes
//     it from persistence too, and persistence expires it at the same
//     expire_time as the cache does;
//   - quotas and idempotency keys are checked by persistence, over every
//     stored adapter, not only the cached ones;
//   - with shared persistence (Redis), a cached adapter is confirmed to still
//     exist (see Options::revalidate_after), so a delete on another replica
//     is seen: Get confirms before it answers, GetCached (the Predict path)
//     in the background, on the store's one confirming thread. When a check
//     cannot reach persistence, the cached adapter is served: an outage
//     keeps cached adapters available;
//   - a write is bounded by the caller's deadline; when persistence cannot
//     say whether it stored the adapter, or stored it after the deadline,
//     the answer is exact (see InsertIdempotent).
// Persistence I/O never happens under the store's lock.
//
//   ASSIGN_OR_RETURN(auto store, AdapterStore::Create({.max_adapters = 10}));
//   RETURN_IF_ERROR(store->Insert(adapter));
//   ASSIGN_OR_RETURN(AdapterPtr a, store->Get(id, tenant));
#ifndef ADAPTD_SERVER_ENGINE_STORE_ADAPTER_STORE_H_
#define ADAPTD_SERVER_ENGINE_STORE_ADAPTER_STORE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/base/adapter.h"
#include "server/engine/store/adapter_persistence.h"
#include "server/common/clock.h"

namespace adaptd::engine {

enum class RemovalReason { kDeleted, kTtl, kCapacity };

class AdapterStore {
 public:
  struct Options {
    // Most adapters held at once; the least recently used go first.
    int64_t max_adapters = 100000;
    // Most bytes (sum of Adapter::info.size_bytes) held at once.
    int64_t max_bytes = int64_t{2} << 30;
    // Most live adapters, and bytes of them, one tenant may have; 0: no
    // limit. Over it, Insert is RESOURCE_EXHAUSTED.
    int64_t max_adapters_per_tenant = 0;
    int64_t max_bytes_per_tenant = 0;
    // Time source for expiry; not owned.
    Clock* clock = Clock::Real();
    // Called, outside the store's lock, for every adapter added to or
    // removed from the cache. Used for metrics. May be empty.
    std::function<void(const AdapterInfo&)> on_insert;
    std::function<void(const AdapterInfo&, RemovalReason)> on_remove;
    // The durable store behind the cache; null: memory only.
    std::shared_ptr<AdapterPersistence> persistence;
    // Required with persistence: an adapter to stored bytes, and back (with
    // the head on the device that will use it).
    std::function<absl::StatusOr<std::string>(const Adapter&)> encode;
    std::function<absl::StatusOr<AdapterPtr>(absl::string_view)> decode;
    // With shared persistence: how long a cached adapter is used before it
    // is confirmed again. Zero: on every use (Get sees a delete anywhere at
    // once, for one round trip per use; GetCached starts a check in the
    // background, at most one per adapter at a time).
    absl::Duration revalidate_after = absl::ZeroDuration();
    // Problems no caller sees, e.g. a stored adapter that does not decode at
    // load or in a listing (it is skipped). May be empty.
    std::function<void(const absl::Status&)> on_error;
  };

  struct Page {
    std::vector<AdapterPtr> adapters;
    std::string next_page_token;  // Empty on the last page.
  };

  static absl::StatusOr<std::unique_ptr<AdapterStore>> Create(const Options& options);
  // Waits for a background confirmation in progress, if any.
  ~AdapterStore();

  // Stores `adapter`, evicting expired then least recently used adapters
  // from the cache to make room. If the tenant already has a live adapter
  // for the same request_id, stores nothing and returns that one; else
  // returns `adapter`.
  // RESOURCE_EXHAUSTED if it alone is over the byte limit or the tenant is
  // over a quota; ALREADY_EXISTS if its id is taken; with persistence, the
  // persistence's error, and then nothing is stored (UNAVAILABLE when it
  // cannot write) except as below.
  //
  // With persistence, `call`'s deadline and cancellation are checked before
  // the write (DEADLINE_EXCEEDED / CANCELLED: nothing is stored) and bound
  // it. When the write's outcome is unknown (it went out, no answer came) or
  // it succeeded after the deadline or cancellation:
  //   - without a request_id, the write is taken back (Discard) and the
  //     answer (UNAVAILABLE, DEADLINE_EXCEEDED or CANCELLED) says that
  //     nothing is stored;
  //   - with a request_id, the adapter may be stored, and the answer says
  //     the outcome is unknown: a retry with the same request_id returns it
  //     if it was stored, else makes it.
  absl::StatusOr<AdapterPtr> InsertIdempotent(AdapterPtr adapter, const CallContext& call);
  // Without a deadline.
  absl::StatusOr<AdapterPtr> InsertIdempotent(AdapterPtr adapter);
  // InsertIdempotent, for callers that need no adapter back.
  absl::Status Insert(AdapterPtr adapter);

  // NOT_FOUND if absent, expired or owned by another tenant; with
  // persistence, its error when a cache miss cannot be read (UNAVAILABLE),
  // or DATA_LOSS for a stored adapter that does not decode.
  absl::StatusOr<AdapterPtr> Get(const std::string& adapter_id, const std::string& tenant);

  // Get without waiting on persistence, for threads that must not block:
  // the cached adapter, or nullptr when it is not cached but persistence
  // may hold it (call Get from a thread that may wait). NOT_FOUND as for
  // Get when the cache or the lack of persistence already tells. With
  // shared persistence, a cached adapter due for confirmation is confirmed
  // in the background; if it was deleted elsewhere, it leaves the cache
  // and later calls see NOT_FOUND.
  absl::StatusOr<AdapterPtr> GetCached(const std::string& adapter_id, const std::string& tenant);

  // The live adapter that `tenant` created with `request_id`, or nullptr
  // (also when persistence cannot be read: Insert checks again).
  AdapterPtr FindByRequestId(const std::string& tenant, const std::string& request_id);

  // NOT_FOUND as for Get. With persistence, removed there first; its error
  // leaves the adapter in place.
  absl::Status Delete(const std::string& adapter_id, const std::string& tenant);

  // Adapters of `tenant` in id order, after `page_token` (a previous page's
  // next_page_token, or empty), optionally only those of `backbone`. With
  // persistence, lists every stored adapter, cached or not.
  absl::StatusOr<Page> List(const std::string& tenant, const std::string& backbone,
                            int page_size, const std::string& page_token);

  // Fills the cache from persistence (backends that warm at start: the
  // directory) until it is full. Adapters that do not decode are reported to
  // on_error and skipped. Returns how many were cached.
  absl::StatusOr<int64_t> LoadFromPersistence();

  // Removes every expired adapter from the cache now. Returns how many.
  int64_t ExpireNow();

  // What the cache holds.
  int64_t size() const;
  int64_t bytes() const;
  const AdapterPersistence* persistence() const { return options_.persistence.get(); }

 private:
  struct Entry {
    AdapterPtr adapter;
    std::list<absl::string_view>::iterator lru;
    absl::Time confirmed;  // Last seen in persistence (or stored there).
  };
  struct Usage {
    int64_t adapters = 0;
    int64_t bytes = 0;
  };
  using Removed = std::vector<std::pair<AdapterPtr, RemovalReason>>;

  // What the cache says about one id.
  struct CacheLookup {
    AdapterPtr adapter;    // Set when cached, the tenant's and live.
    bool cached = false;   // The id is cached (maybe another tenant's).
    bool confirm = false;  // Due for confirmation with persistence.
  };

  explicit AdapterStore(const Options& options) : options_(options) {}
  CacheLookup LookupCache(const std::string& adapter_id, const std::string& tenant);
  // Asks persistence whether `adapter` still exists: drops it from the cache
  // if not, marks it confirmed if so; keeps it when persistence cannot tell.
  // Returns whether it may be served.
  bool Confirm(const std::string& adapter_id, const AdapterPtr& adapter);
  // Queues a background Confirm unless one for the id is queued or running.
  void ConfirmLater(const std::string& adapter_id, const AdapterPtr& adapter);
  void ConfirmLoop();
  // The answer to a write whose outcome is unknown (`cause`) or that
  // finished after its caller's deadline (`late`, with the stored adapter).
  absl::Status Unconfirmed(const AdapterInfo& info, const absl::Status& cause, bool late);
  absl::StatusOr<AdapterPtr> InsertInMemory(AdapterPtr adapter);
  // Stores `adapter` in the cache, evicting to make room. REQUIRES: its id is
  // not cached and it fits in max_bytes.
  void CacheLocked(AdapterPtr adapter, absl::Time now, Removed* removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Caches an adapter read from persistence unless its id is cached already;
  // returns the cached one.
  AdapterPtr CacheFetched(AdapterPtr adapter);
  // The adapter from persistence: NOT_FOUND if absent, another tenant's or
  // expired. Not cached.
  absl::StatusOr<AdapterPtr> ReadThrough(const std::string& adapter_id,
                                         const std::string& tenant);
  absl::StatusOr<AdapterPtr> DecodeRecord(const std::string& adapter_id,
                                          absl::string_view bytes);
  // Drops `adapter_id` from the cache if it still holds `adapter`.
  void Uncache(const std::string& adapter_id, const AdapterPtr& adapter, RemovalReason reason);
  absl::StatusOr<Page> ListPersisted(const std::string& tenant, const std::string& backbone,
                                     int page_size, const std::string& page_token);
  using ById = std::map<absl::string_view, Entry>;
  void RemoveLocked(ById::iterator it, RemovalReason reason,
                    Removed* removed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLocked(absl::Time now, Removed* removed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(const Removed& removed) const;
  void ReportError(const absl::Status& status) const;

  const Options options_;
  mutable absl::Mutex mu_;
  // Keys everywhere view the entry's own adapter's adapter_id (immutable,
  // alive as long as the entry): one copy of each id, not four.
  ById by_id_ ABSL_GUARDED_BY(mu_);
  std::list<absl::string_view> lru_ ABSL_GUARDED_BY(mu_);  // Front: most recent.
  std::set<std::pair<absl::Time, absl::string_view>> by_expiry_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> by_request_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Usage> usage_ ABSL_GUARDED_BY(mu_);  // By tenant.
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;

  // Background confirmations (GetCached), on one thread started at Create
  // for shared persistence.
  absl::Mutex confirm_mu_;
  absl::CondVar confirm_cv_;
  std::deque<std::pair<std::string, AdapterPtr>> to_confirm_ ABSL_GUARDED_BY(confirm_mu_);
  absl::flat_hash_set<std::string> confirming_ ABSL_GUARDED_BY(confirm_mu_);
  bool stopping_ ABSL_GUARDED_BY(confirm_mu_) = false;
  std::thread confirm_thread_;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_STORE_ADAPTER_STORE_H_
