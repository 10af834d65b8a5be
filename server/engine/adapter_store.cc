#include "server/engine/adapter_store.h"

#include "absl/strings/str_cat.h"

namespace adaptd::engine {
namespace {

std::string RequestKey(const std::string& tenant, const std::string& request_id) {
  return absl::StrCat(tenant.size(), ":", tenant, request_id);
}

absl::Status AdapterNotFound(const std::string& adapter_id) {
  return absl::NotFoundError(absl::StrCat("adapter_id: adapter \"", adapter_id,
                                          "\" not found (unknown, deleted or expired)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<AdapterStore>> AdapterStore::Create(
    const Options& options) {
  if (options.max_adapters <= 0) {
    return absl::InvalidArgumentError("max_adapters must be positive");
  }
  if (options.max_bytes <= 0) {
    return absl::InvalidArgumentError("max_adapter_bytes must be positive");
  }
  if (options.clock == nullptr) return absl::InvalidArgumentError("clock is null");
  return std::unique_ptr<AdapterStore>(new AdapterStore(options));
}

absl::Status AdapterStore::Insert(AdapterPtr adapter) {
  const AdapterInfo& info = adapter->info;
  if (info.size_bytes > options_.max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("adapter of ", info.size_bytes, " bytes exceeds the store limit of ",
                     options_.max_bytes, " bytes"));
  }
  Removed removed;
  {
    absl::MutexLock lock(&mu_);
    if (by_id_.count(info.adapter_id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("adapter_id \"", info.adapter_id, "\" already exists"));
    }
    ExpireLocked(options_.clock->Now(), &removed);
    while (!lru_.empty() &&
           (static_cast<int64_t>(by_id_.size()) + 1 > options_.max_adapters ||
            bytes_ + info.size_bytes > options_.max_bytes)) {
      RemoveLocked(by_id_.find(lru_.back()), RemovalReason::kCapacity, &removed);
    }
    lru_.push_front(info.adapter_id);
    by_id_.emplace(info.adapter_id, Entry{adapter, lru_.begin()});
    by_expiry_.emplace(info.expire_time, info.adapter_id);
    if (!info.request_id.empty()) {
      by_request_[RequestKey(info.tenant, info.request_id)] = info.adapter_id;
    }
    bytes_ += info.size_bytes;
  }
  Notify(removed);
  if (options_.on_insert) options_.on_insert(info);
  return absl::OkStatus();
}

absl::StatusOr<AdapterPtr> AdapterStore::Get(const std::string& adapter_id,
                                             const std::string& tenant) {
  Removed removed;
  AdapterPtr found;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(adapter_id);
    if (it != by_id_.end() && it->second.adapter->info.tenant == tenant) {
      if (it->second.adapter->info.expire_time <= options_.clock->Now()) {
        RemoveLocked(it, RemovalReason::kTtl, &removed);
      } else {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        found = it->second.adapter;
      }
    }
  }
  Notify(removed);
  if (!found) return AdapterNotFound(adapter_id);
  return found;
}

AdapterPtr AdapterStore::FindByRequestId(const std::string& tenant,
                                         const std::string& request_id) {
  if (request_id.empty()) return nullptr;
  std::string id;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_request_.find(RequestKey(tenant, request_id));
    if (it == by_request_.end()) return nullptr;
    id = it->second;
  }
  auto adapter = Get(id, tenant);
  return adapter.ok() ? *adapter : nullptr;
}

absl::Status AdapterStore::Delete(const std::string& adapter_id,
                                  const std::string& tenant) {
  Removed removed;
  bool expired = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(adapter_id);
    if (it == by_id_.end() || it->second.adapter->info.tenant != tenant) {
      return AdapterNotFound(adapter_id);
    }
    expired = it->second.adapter->info.expire_time <= options_.clock->Now();
    RemoveLocked(it, expired ? RemovalReason::kTtl : RemovalReason::kDeleted, &removed);
  }
  Notify(removed);
  return expired ? AdapterNotFound(adapter_id) : absl::OkStatus();
}

absl::StatusOr<AdapterStore::Page> AdapterStore::List(const std::string& tenant,
                                                      const std::string& backbone,
                                                      int page_size,
                                                      const std::string& page_token) {
  if (page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must not be negative, got ", page_size));
  }
  if (page_size == 0) page_size = 100;
  if (page_size > 1000) page_size = 1000;
  Page page;
  Removed removed;
  {
    absl::MutexLock lock(&mu_);
    ExpireLocked(options_.clock->Now(), &removed);
    for (auto it = by_id_.upper_bound(page_token); it != by_id_.end(); ++it) {
      const AdapterInfo& info = it->second.adapter->info;
      if (info.tenant != tenant || (!backbone.empty() && info.backbone != backbone)) {
        continue;
      }
      if (static_cast<int>(page.adapters.size()) == page_size) {
        page.next_page_token = page.adapters.back()->info.adapter_id;
        break;
      }
      page.adapters.push_back(it->second.adapter);
    }
  }
  Notify(removed);
  return page;
}

int64_t AdapterStore::ExpireNow() {
  Removed removed;
  {
    absl::MutexLock lock(&mu_);
    ExpireLocked(options_.clock->Now(), &removed);
  }
  Notify(removed);
  return static_cast<int64_t>(removed.size());
}

int64_t AdapterStore::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(by_id_.size());
}

int64_t AdapterStore::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

void AdapterStore::RemoveLocked(std::map<std::string, Entry>::iterator it,
                                RemovalReason reason, Removed* removed) {
  const AdapterInfo& info = it->second.adapter->info;
  lru_.erase(it->second.lru);
  by_expiry_.erase({info.expire_time, info.adapter_id});
  if (!info.request_id.empty()) {
    auto req = by_request_.find(RequestKey(info.tenant, info.request_id));
    if (req != by_request_.end() && req->second == info.adapter_id) by_request_.erase(req);
  }
  bytes_ -= info.size_bytes;
  removed->emplace_back(std::move(it->second.adapter), reason);
  by_id_.erase(it);
}

void AdapterStore::ExpireLocked(absl::Time now, Removed* removed) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    RemoveLocked(by_id_.find(by_expiry_.begin()->second), RemovalReason::kTtl, removed);
  }
}

void AdapterStore::Notify(const Removed& removed) const {
  if (!options_.on_remove) return;
  for (const auto& [adapter, reason] : removed) options_.on_remove(adapter->info, reason);
}

}  // namespace adaptd::engine
