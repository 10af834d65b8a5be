// An in-memory AdapterPersistence for store tests: what a backend promises
// (TTL, idempotency keys, quotas, id-ordered listing), plus switches to make
// it fail or lose records behind the store's back. Thread-safe.
#ifndef ADAPTD_TESTS_TEST_UTIL_FAKE_PERSISTENCE_H_
#define ADAPTD_TESTS_TEST_UTIL_FAKE_PERSISTENCE_H_

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/store/adapter_persistence.h"
#include "server/common/clock.h"

namespace adaptd::testing {

class FakePersistence : public engine::AdapterPersistence {
 public:
  FakePersistence(bool shared, adaptd::Clock* clock) : shared_(shared), clock_(clock) {}

  // While down, every call is UNAVAILABLE.
  void SetDown(bool down) {
    absl::MutexLock lock(&mu_);
    down_ = down;
  }
  // Removes a record as another replica's Delete would.
  void Erase(const std::string& id) {
    absl::MutexLock lock(&mu_);
    records_.erase(id);
  }
  bool Has(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return Live(id);
  }
  int64_t size() {
    absl::MutexLock lock(&mu_);
    int64_t n = 0;
    for (const auto& [id, record] : records_) n += Live(id);
    return n;
  }
  int gets() {
    absl::MutexLock lock(&mu_);
    return gets_;
  }
  // Stores a record directly, as another writer would.
  void Add(const engine::AdapterInfo& info, std::string bytes) {
    absl::MutexLock lock(&mu_);
    records_[info.adapter_id] = {info, std::move(bytes)};
  }

  std::string Describe() const override { return "fake"; }
  bool shared() const override { return shared_; }

  absl::StatusOr<std::string> Put(const engine::AdapterInfo& info, absl::string_view bytes,
                                  const Quota& quota) override {
    absl::MutexLock lock(&mu_);
    if (down_) return Down();
    if (!info.request_id.empty()) {
      for (const auto& [id, record] : records_) {
        if (Live(id) && record.info.tenant == info.tenant &&
            record.info.request_id == info.request_id) {
          return id;
        }
      }
    }
    int64_t count = 0, bytes_used = 0;
    for (const auto& [id, record] : records_) {
      if (Live(id) && record.info.tenant == info.tenant) {
        ++count;
        bytes_used += record.info.size_bytes;
      }
    }
    if (quota.max_adapters > 0 && count + 1 > quota.max_adapters) {
      return engine::TenantOverQuota(info.tenant, quota.max_adapters, "adapters");
    }
    if (quota.max_bytes > 0 && bytes_used + info.size_bytes > quota.max_bytes) {
      return engine::TenantOverQuota(info.tenant, quota.max_bytes, "bytes");
    }
    records_[info.adapter_id] = {info, std::string(bytes)};
    return info.adapter_id;
  }

  absl::StatusOr<std::string> Get(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    ++gets_;
    if (down_) return Down();
    if (!Live(id)) return absl::NotFoundError(absl::StrCat(id, " is not stored"));
    return records_.at(id).bytes;
  }

  absl::StatusOr<bool> Exists(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    if (down_) return Down();
    return Live(id);
  }

  absl::StatusOr<std::string> FindByRequestId(const std::string& tenant,
                                              const std::string& request_id) override {
    absl::MutexLock lock(&mu_);
    if (down_) return Down();
    for (const auto& [id, record] : records_) {
      if (Live(id) && record.info.tenant == tenant && record.info.request_id == request_id) {
        return id;
      }
    }
    return absl::NotFoundError("no such request");
  }

  absl::Status Delete(const engine::AdapterInfo& info) override {
    absl::MutexLock lock(&mu_);
    if (down_) return Down();
    records_.erase(info.adapter_id);
    return absl::OkStatus();
  }

  absl::StatusOr<ListChunk> List(const std::string& tenant, const std::string& after,
                                 int limit) override {
    absl::MutexLock lock(&mu_);
    if (down_) return Down();
    ListChunk chunk;
    for (auto it = records_.upper_bound(after); it != records_.end(); ++it) {
      if (!Live(it->first) || it->second.info.tenant != tenant) continue;
      if (static_cast<int>(chunk.records.size()) == limit) {
        chunk.next_after = chunk.records.back().adapter_id;
        break;
      }
      chunk.records.push_back({it->first, it->second.bytes});
    }
    return chunk;
  }

  absl::Status LoadAll(const std::function<void(engine::AdapterRecord)>& visit) override {
    std::vector<engine::AdapterRecord> all;
    {
      absl::MutexLock lock(&mu_);
      if (down_) return Down();
      for (const auto& [id, record] : records_) {
        if (Live(id)) all.push_back({id, record.bytes});
      }
    }
    for (auto& record : all) visit(std::move(record));
    return absl::OkStatus();
  }

 private:
  struct Record {
    engine::AdapterInfo info;
    std::string bytes;
  };
  static absl::Status Down() { return absl::UnavailableError("fake persistence is down"); }
  bool Live(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = records_.find(id);
    return it != records_.end() && it->second.info.expire_time > clock_->Now();
  }

  const bool shared_;
  adaptd::Clock* const clock_;
  absl::Mutex mu_;
  bool down_ ABSL_GUARDED_BY(mu_) = false;
  int gets_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, Record> records_ ABSL_GUARDED_BY(mu_);
};

}  // namespace adaptd::testing

#endif  // ADAPTD_TESTS_TEST_UTIL_FAKE_PERSISTENCE_H_
