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
//     exist before use (see Options::revalidate_after), so a delete on
//     another replica is seen. When that check cannot reach persistence, the
//     cached adapter is served: an outage keeps cached adapters available.
// Persistence I/O never happens under the store's lock.
//
//   ASSIGN_OR_RETURN(auto store, AdapterStore::Create({.max_adapters = 10}));
//   RETURN_IF_ERROR(store->Insert(adapter));
//   ASSIGN_OR_RETURN(AdapterPtr a, store->Get(id, tenant));
#ifndef ADAPTD_SERVER_ENGINE_STORE_ADAPTER_STORE_H_
#define ADAPTD_SERVER_ENGINE_STORE_ADAPTER_STORE_H_

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
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
    // is confirmed again. Zero: on every use (a delete anywhere is seen at
    // once, for one round trip per use).
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

  // Stores `adapter`, evicting expired then least recently used adapters
  // from the cache to make room. If the tenant already has a live adapter
  // for the same request_id, stores nothing and returns that one; else
  // returns `adapter`.
  // RESOURCE_EXHAUSTED if it alone is over the byte limit or the tenant is
  // over a quota; ALREADY_EXISTS if its id is taken; with persistence, the
  // persistence's error (UNAVAILABLE when it cannot write) and then nothing
  // is stored.
  absl::StatusOr<AdapterPtr> InsertIdempotent(AdapterPtr adapter);
  // InsertIdempotent, for callers that need no adapter back.
  absl::Status Insert(AdapterPtr adapter);

  // NOT_FOUND if absent, expired or owned by another tenant; with
  // persistence, its error when a cache miss cannot be read (UNAVAILABLE),
  // or DATA_LOSS for a stored adapter that does not decode.
  absl::StatusOr<AdapterPtr> Get(const std::string& adapter_id, const std::string& tenant);

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

  explicit AdapterStore(const Options& options) : options_(options) {}
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
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_STORE_ADAPTER_STORE_H_
