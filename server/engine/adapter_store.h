// In-memory adapter store bounded by count and bytes, with per-adapter TTL
// and least-recently-used eviction. Thread-safe.
//
// Every lookup is scoped to a tenant: another tenant's adapter is NOT_FOUND,
// exactly like one that does not exist.
//
//   ASSIGN_OR_RETURN(auto store, AdapterStore::Create({.max_adapters = 10}));
//   RETURN_IF_ERROR(store->Insert(adapter));
//   ASSIGN_OR_RETURN(AdapterPtr a, store->Get(id, tenant));
#ifndef ADAPTD_SERVER_ENGINE_ADAPTER_STORE_H_
#define ADAPTD_SERVER_ENGINE_ADAPTER_STORE_H_

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
#include "absl/synchronization/mutex.h"
#include "server/engine/adapter.h"
#include "server/engine/clock.h"

namespace adaptd::engine {

enum class RemovalReason { kDeleted, kTtl, kCapacity };

class AdapterStore {
 public:
  struct Options {
    // Most adapters held at once; the least recently used go first.
    int64_t max_adapters = 100000;
    // Most bytes (sum of Adapter::info.size_bytes) held at once.
    int64_t max_bytes = int64_t{2} << 30;
    // Time source for expiry; not owned.
    Clock* clock = Clock::Real();
    // Called, outside the store's lock, for every adapter added or removed.
    // Used for metrics. May be empty.
    std::function<void(const AdapterInfo&)> on_insert;
    std::function<void(const AdapterInfo&, RemovalReason)> on_remove;
  };

  struct Page {
    std::vector<AdapterPtr> adapters;
    std::string next_page_token;  // Empty on the last page.
  };

  static absl::StatusOr<std::unique_ptr<AdapterStore>> Create(const Options& options);

  // Stores `adapter`, evicting expired then least recently used adapters to
  // make room. RESOURCE_EXHAUSTED if it alone is over the byte limit;
  // ALREADY_EXISTS if its id is taken.
  absl::Status Insert(AdapterPtr adapter);

  // NOT_FOUND if absent, expired or owned by another tenant.
  absl::StatusOr<AdapterPtr> Get(const std::string& adapter_id,
                                 const std::string& tenant);

  // The live adapter that `tenant` created with `request_id`, or nullptr.
  AdapterPtr FindByRequestId(const std::string& tenant,
                             const std::string& request_id);

  absl::Status Delete(const std::string& adapter_id, const std::string& tenant);

  // Adapters of `tenant` in id order, after `page_token` (a previous page's
  // next_page_token, or empty), optionally only those of `backbone`.
  absl::StatusOr<Page> List(const std::string& tenant, const std::string& backbone,
                            int page_size, const std::string& page_token);

  // Removes every expired adapter now. Returns how many.
  int64_t ExpireNow();

  int64_t size() const;
  int64_t bytes() const;

 private:
  struct Entry {
    AdapterPtr adapter;
    std::list<std::string>::iterator lru;
  };
  using Removed = std::vector<std::pair<AdapterPtr, RemovalReason>>;

  explicit AdapterStore(const Options& options) : options_(options) {}
  void RemoveLocked(std::map<std::string, Entry>::iterator it,
                    RemovalReason reason, Removed* removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLocked(absl::Time now, Removed* removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(const Removed& removed) const;

  const Options options_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> by_id_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // Front: most recent.
  std::set<std::pair<absl::Time, std::string>> by_expiry_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> by_request_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ADAPTER_STORE_H_
