#include "server/engine/store/adapter_store.h"

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"

namespace adaptd::engine {
namespace {

std::string RequestKey(const std::string& tenant, const std::string& request_id) {
  return absl::StrCat(tenant.size(), ":", tenant, request_id);
}

absl::Status AdapterNotFound(const std::string& adapter_id) {
  return absl::NotFoundError(absl::StrCat("adapter_id: adapter \"", adapter_id,
                                          "\" not found (unknown, deleted or expired)"));
}

// DEADLINE_EXCEEDED or CANCELLED, `when`, once the caller has given up.
// Deadlines are wall time, as the RPC layer sets them.
absl::Status CallOver(const CallContext& call, absl::string_view when) {
  if (call.IsCancelled()) return absl::CancelledError(absl::StrCat("Adapt: cancelled ", when));
  if (absl::Now() >= call.deadline) {
    return absl::DeadlineExceededError(absl::StrCat("Adapt: deadline exceeded ", when));
  }
  return absl::OkStatus();
}

// Most adapters waiting for a background confirmation; beyond it a use does
// not ask for one (the next use asks again).
constexpr size_t kMaxPendingConfirmations = 4096;

}  // namespace

absl::StatusOr<std::unique_ptr<AdapterStore>> AdapterStore::Create(
    const Options& options) {
  if (options.max_adapters <= 0) {
    return absl::InvalidArgumentError("max_adapters must be positive");
  }
  if (options.max_bytes <= 0) {
    return absl::InvalidArgumentError("max_adapter_bytes must be positive");
  }
  if (options.max_adapters_per_tenant < 0 || options.max_bytes_per_tenant < 0) {
    return absl::InvalidArgumentError(
        "max_adapters_per_tenant and max_adapter_bytes_per_tenant must not be negative");
  }
  if (options.clock == nullptr) return absl::InvalidArgumentError("clock is null");
  if (options.revalidate_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("adapter_revalidate_after: must not be negative, got ",
                     absl::FormatDuration(options.revalidate_after)));
  }
  if (options.persistence && (!options.encode || !options.decode)) {
    return absl::InvalidArgumentError("a store with persistence needs encode and decode");
  }
  std::unique_ptr<AdapterStore> store(new AdapterStore(options));
  if (options.persistence && options.persistence->shared()) {
    store->confirm_thread_ = std::thread([s = store.get()] { s->ConfirmLoop(); });
  }
  return store;
}

AdapterStore::~AdapterStore() {
  {
    absl::MutexLock lock(&confirm_mu_);
    stopping_ = true;
    confirm_cv_.SignalAll();
  }
  if (confirm_thread_.joinable()) confirm_thread_.join();
}

absl::Status AdapterStore::Insert(AdapterPtr adapter) {
  return InsertIdempotent(std::move(adapter)).status();
}

absl::StatusOr<AdapterPtr> AdapterStore::InsertIdempotent(AdapterPtr adapter) {
  return InsertIdempotent(std::move(adapter), CallContext{});
}

absl::StatusOr<AdapterPtr> AdapterStore::InsertIdempotent(AdapterPtr adapter,
                                                          const CallContext& call) {
  const AdapterInfo& info = adapter->info;
  if (info.size_bytes > options_.max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("adapter of ", info.size_bytes, " bytes exceeds the store limit of ",
                     options_.max_bytes, " bytes"));
  }
  if (!options_.persistence) return InsertInMemory(std::move(adapter));
  {
    absl::MutexLock lock(&mu_);
    if (by_id_.count(info.adapter_id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("adapter_id \"", info.adapter_id, "\" already exists"));
    }
  }
  ASSIGN_OR_RETURN(std::string bytes, options_.encode(*adapter));
  const AdapterPersistence::Quota quota{options_.max_adapters_per_tenant,
                                        options_.max_bytes_per_tenant};
  RETURN_IF_ERROR(CallOver(call, "before the adapter was stored; nothing is stored"));
  absl::StatusOr<std::string> stored =
      options_.persistence->PutBefore(info, bytes, quota, call.deadline);
  if (IsWriteOutcomeUnknown(stored.status())) {
    return Unconfirmed(info, stored.status(), /*late=*/false);
  }
  if (absl::IsUnavailable(stored.status())) {
    // The write never started, or Redis refused it.
    return absl::UnavailableError(absl::StrCat(stored.status().message(), "; nothing is stored"));
  }
  RETURN_IF_ERROR(stored.status());
  const bool made = *stored == info.adapter_id;
  absl::Status late = CallOver(call, "while the adapter was stored");
  if (!late.ok()) {
    if (!made) return late;  // It stored nothing: an earlier adapter had the request_id.
    if (!info.request_id.empty()) CacheFetched(adapter);  // A retry gets it from here.
    return Unconfirmed(info, late, /*late=*/true);
  }
  if (made) return CacheFetched(std::move(adapter));
  // The same request made an adapter first, maybe on another replica.
  return Get(*stored, info.tenant);
}

absl::Status AdapterStore::Unconfirmed(const AdapterInfo& info, const absl::Status& cause,
                                       bool late) {
  if (info.request_id.empty()) {
    // Nobody can ask for it again: take it back, so that the answer holds.
    options_.persistence->Discard(info);
    return absl::Status(cause.code(),
                        absl::StrCat(cause.message(), late ? "; the adapter was stored too late"
                                                           : "",
                                     "; nothing is stored (the write is taken back)"));
  }
  return absl::Status(
      cause.code(),
      absl::StrCat(cause.message(), late ? "; the adapter was stored too late" : "",
                   "; the outcome is unknown: retry with the same request_id to get the "
                   "adapter if it was stored, or make it if it was not"));
}

absl::StatusOr<AdapterPtr> AdapterStore::InsertInMemory(AdapterPtr adapter) {
  const AdapterInfo& info = adapter->info;
  Removed removed;
  AdapterPtr existing;
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (by_id_.count(info.adapter_id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("adapter_id \"", info.adapter_id, "\" already exists"));
    }
    const absl::Time now = options_.clock->Now();
    ExpireLocked(now, &removed);
    auto req = info.request_id.empty() ? by_request_.end()
                                       : by_request_.find(RequestKey(info.tenant, info.request_id));
    if (req != by_request_.end()) {
      auto it = by_id_.find(req->second);
      if (it != by_id_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        existing = it->second.adapter;
      }
    }
    if (!existing) {
      const Usage usage = usage_.count(info.tenant) ? usage_.at(info.tenant) : Usage{};
      if (options_.max_adapters_per_tenant > 0 &&
          usage.adapters + 1 > options_.max_adapters_per_tenant) {
        refused = TenantOverQuota(info.tenant, options_.max_adapters_per_tenant, "adapters");
      } else if (options_.max_bytes_per_tenant > 0 &&
                 usage.bytes + info.size_bytes > options_.max_bytes_per_tenant) {
        refused = TenantOverQuota(info.tenant, options_.max_bytes_per_tenant, "bytes");
      } else {
        CacheLocked(adapter, now, &removed);
      }
    }
  }
  Notify(removed);
  if (existing) return existing;
  if (!refused.ok()) return refused;
  if (options_.on_insert) options_.on_insert(info);
  return adapter;
}

void AdapterStore::CacheLocked(AdapterPtr adapter, absl::Time now, Removed* removed) {
  const AdapterInfo& info = adapter->info;
  ExpireLocked(now, removed);
  while (!lru_.empty() &&
         (static_cast<int64_t>(by_id_.size()) + 1 > options_.max_adapters ||
          bytes_ + info.size_bytes > options_.max_bytes)) {
    RemoveLocked(by_id_.find(lru_.back()), RemovalReason::kCapacity, removed);
  }
  const absl::string_view id = info.adapter_id;  // `info` lives in the entry's adapter.
  lru_.push_front(id);
  by_expiry_.emplace(info.expire_time, id);
  if (!info.request_id.empty()) {
    by_request_[RequestKey(info.tenant, info.request_id)] = info.adapter_id;
  }
  bytes_ += info.size_bytes;
  Usage& usage = usage_[info.tenant];
  usage.adapters += 1;
  usage.bytes += info.size_bytes;
  by_id_.emplace(id, Entry{std::move(adapter), lru_.begin(), now});
}

AdapterPtr AdapterStore::CacheFetched(AdapterPtr adapter) {
  const AdapterInfo& info = adapter->info;
  Removed removed;
  AdapterPtr result = adapter;
  bool cached = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(info.adapter_id);
    if (it != by_id_.end()) {
      result = it->second.adapter;  // Another call cached it first.
    } else if (info.size_bytes <= options_.max_bytes) {
      CacheLocked(adapter, options_.clock->Now(), &removed);
      cached = true;
    }
  }
  Notify(removed);
  if (cached && options_.on_insert) options_.on_insert(info);
  return result;
}

absl::StatusOr<AdapterPtr> AdapterStore::DecodeRecord(const std::string& adapter_id,
                                                      absl::string_view bytes) {
  absl::StatusOr<AdapterPtr> adapter = options_.decode(bytes);
  if (adapter.ok() && (*adapter)->info.adapter_id != adapter_id) {
    adapter = absl::DataLossError(absl::StrCat("the record holds adapter \"",
                                               (*adapter)->info.adapter_id, "\""));
  }
  if (!adapter.ok()) {
    return absl::Status(adapter.status().code(),
                        absl::StrCat("adapter_id: stored adapter \"", adapter_id,
                                     "\" cannot be read: ", adapter.status().message()));
  }
  return adapter;
}

absl::StatusOr<AdapterPtr> AdapterStore::ReadThrough(const std::string& adapter_id,
                                                     const std::string& tenant) {
  absl::StatusOr<std::string> bytes = options_.persistence->Get(adapter_id);
  if (absl::IsNotFound(bytes.status())) return AdapterNotFound(adapter_id);
  if (!bytes.ok()) return bytes.status();
  ASSIGN_OR_RETURN(AdapterPtr adapter, DecodeRecord(adapter_id, *bytes));
  if (adapter->info.tenant != tenant || adapter->info.expire_time <= options_.clock->Now()) {
    return AdapterNotFound(adapter_id);
  }
  return adapter;
}

void AdapterStore::Uncache(const std::string& adapter_id, const AdapterPtr& adapter,
                           RemovalReason reason) {
  Removed removed;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(adapter_id);
    if (it != by_id_.end() && it->second.adapter == adapter) RemoveLocked(it, reason, &removed);
  }
  Notify(removed);
}

AdapterStore::CacheLookup AdapterStore::LookupCache(const std::string& adapter_id,
                                                    const std::string& tenant) {
  CacheLookup lookup;
  Removed removed;
  const absl::Time now = options_.clock->Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(adapter_id);
    if (it != by_id_.end()) {
      lookup.cached = true;
      if (it->second.adapter->info.tenant == tenant) {
        if (it->second.adapter->info.expire_time <= now) {
          RemoveLocked(it, RemovalReason::kTtl, &removed);
        } else {
          lru_.splice(lru_.begin(), lru_, it->second.lru);
          lookup.adapter = it->second.adapter;
          lookup.confirm = options_.persistence && options_.persistence->shared() &&
                           now - it->second.confirmed >= options_.revalidate_after;
        }
      }
    }
  }
  Notify(removed);
  return lookup;
}

bool AdapterStore::Confirm(const std::string& adapter_id, const AdapterPtr& adapter) {
  const absl::Time now = options_.clock->Now();
  absl::StatusOr<bool> exists = options_.persistence->Exists(adapter_id);
  if (!exists.ok()) return true;  // Persistence is down: serve what is cached.
  if (!*exists) {
    Uncache(adapter_id, adapter, RemovalReason::kDeleted);  // Deleted elsewhere.
    return false;
  }
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(adapter_id);
  if (it != by_id_.end() && it->second.adapter == adapter) it->second.confirmed = now;
  return true;
}

absl::StatusOr<AdapterPtr> AdapterStore::Get(const std::string& adapter_id,
                                             const std::string& tenant) {
  CacheLookup lookup = LookupCache(adapter_id, tenant);
  if (lookup.adapter) {
    if (lookup.confirm && !Confirm(adapter_id, lookup.adapter)) {
      return AdapterNotFound(adapter_id);
    }
    return lookup.adapter;
  }
  if (lookup.cached || !options_.persistence) return AdapterNotFound(adapter_id);
  ASSIGN_OR_RETURN(AdapterPtr fetched, ReadThrough(adapter_id, tenant));
  return CacheFetched(std::move(fetched));
}

absl::StatusOr<AdapterPtr> AdapterStore::GetCached(const std::string& adapter_id,
                                                   const std::string& tenant) {
  CacheLookup lookup = LookupCache(adapter_id, tenant);
  if (lookup.adapter) {
    if (lookup.confirm) ConfirmLater(adapter_id, lookup.adapter);
    return lookup.adapter;
  }
  if (lookup.cached || !options_.persistence) return AdapterNotFound(adapter_id);
  return nullptr;
}

void AdapterStore::ConfirmLater(const std::string& adapter_id, const AdapterPtr& adapter) {
  absl::MutexLock lock(&confirm_mu_);
  if (to_confirm_.size() >= kMaxPendingConfirmations) return;
  if (!confirming_.insert(adapter_id).second) return;  // Already on its way.
  to_confirm_.emplace_back(adapter_id, adapter);
  confirm_cv_.Signal();
}

void AdapterStore::ConfirmLoop() {
  absl::MutexLock lock(&confirm_mu_);
  while (true) {
    while (!stopping_ && to_confirm_.empty()) confirm_cv_.Wait(&confirm_mu_);
    if (stopping_) return;
    auto [adapter_id, adapter] = std::move(to_confirm_.front());
    to_confirm_.pop_front();
    confirm_mu_.Unlock();
    Confirm(adapter_id, adapter);
    adapter.reset();  // Not under the lock: it may be the last reference.
    confirm_mu_.Lock();
    confirming_.erase(adapter_id);
  }
}

AdapterPtr AdapterStore::FindByRequestId(const std::string& tenant,
                                         const std::string& request_id) {
  if (request_id.empty()) return nullptr;
  std::string id;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_request_.find(RequestKey(tenant, request_id));
    if (it != by_request_.end()) id = it->second;
  }
  if (!id.empty()) {
    auto adapter = Get(id, tenant);
    if (adapter.ok()) return *adapter;
  }
  if (!options_.persistence) return nullptr;
  absl::StatusOr<std::string> stored = options_.persistence->FindByRequestId(tenant, request_id);
  if (!stored.ok()) return nullptr;
  auto adapter = Get(*stored, tenant);
  return adapter.ok() ? *adapter : nullptr;
}

absl::Status AdapterStore::Delete(const std::string& adapter_id,
                                  const std::string& tenant) {
  Removed removed;
  bool expired = false;
  AdapterPtr cached;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(adapter_id);
    if (it != by_id_.end()) {
      if (it->second.adapter->info.tenant != tenant) return AdapterNotFound(adapter_id);
      expired = it->second.adapter->info.expire_time <= options_.clock->Now();
      if (expired) {
        RemoveLocked(it, RemovalReason::kTtl, &removed);
      } else if (!options_.persistence) {
        RemoveLocked(it, RemovalReason::kDeleted, &removed);
      } else {
        cached = it->second.adapter;
      }
    } else if (!options_.persistence) {
      return AdapterNotFound(adapter_id);
    }
  }
  Notify(removed);
  if (expired) return AdapterNotFound(adapter_id);
  if (!options_.persistence) return absl::OkStatus();

  AdapterPtr adapter = cached;
  if (adapter && options_.persistence->shared()) {
    absl::StatusOr<bool> exists = options_.persistence->Exists(adapter_id);
    if (!exists.ok()) return exists.status();
    if (!*exists) {
      Uncache(adapter_id, adapter, RemovalReason::kDeleted);  // Deleted elsewhere.
      return AdapterNotFound(adapter_id);
    }
  }
  if (!adapter) {
    ASSIGN_OR_RETURN(adapter, ReadThrough(adapter_id, tenant));
  }
  RETURN_IF_ERROR(options_.persistence->Delete(adapter->info));
  Uncache(adapter_id, adapter, RemovalReason::kDeleted);
  return absl::OkStatus();
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
  if (options_.persistence) return ListPersisted(tenant, backbone, page_size, page_token);
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

absl::StatusOr<AdapterStore::Page> AdapterStore::ListPersisted(const std::string& tenant,
                                                               const std::string& backbone,
                                                               int page_size,
                                                               const std::string& page_token) {
  // One more than a page, to know whether another page follows.
  std::vector<AdapterPtr> matches;
  std::string after = page_token;
  while (static_cast<int>(matches.size()) <= page_size) {
    ASSIGN_OR_RETURN(AdapterPersistence::ListChunk chunk,
                     options_.persistence->List(tenant, after, page_size + 1));
    const absl::Time now = options_.clock->Now();
    for (const AdapterRecord& record : chunk.records) {
      AdapterPtr adapter;
      {
        absl::MutexLock lock(&mu_);
        auto it = by_id_.find(record.adapter_id);
        if (it != by_id_.end()) adapter = it->second.adapter;
      }
      if (!adapter) {
        // Decoded for its info; not cached, so a listing does not flush the
        // cache of adapters in use.
        absl::StatusOr<AdapterPtr> decoded = DecodeRecord(record.adapter_id, record.bytes);
        if (!decoded.ok()) {
          ReportError(decoded.status());
          continue;
        }
        adapter = *std::move(decoded);
      }
      const AdapterInfo& info = adapter->info;
      if (info.tenant != tenant || info.expire_time <= now ||
          (!backbone.empty() && info.backbone != backbone)) {
        continue;
      }
      matches.push_back(std::move(adapter));
      if (static_cast<int>(matches.size()) > page_size) break;
    }
    if (chunk.next_after.empty()) break;
    after = chunk.next_after;
  }
  Page page;
  if (static_cast<int>(matches.size()) > page_size) {
    matches.resize(page_size);
    page.next_page_token = matches.back()->info.adapter_id;
  }
  page.adapters = std::move(matches);
  return page;
}

absl::StatusOr<int64_t> AdapterStore::LoadFromPersistence() {
  if (!options_.persistence) return 0;
  int64_t loaded = 0;
  RETURN_IF_ERROR(options_.persistence->LoadAll([&](AdapterRecord record) {
    absl::StatusOr<AdapterPtr> adapter = DecodeRecord(record.adapter_id, record.bytes);
    if (!adapter.ok()) {
      ReportError(absl::Status(adapter.status().code(),
                               absl::StrCat("adapter store: skipped at load: ",
                                            adapter.status().message())));
      return;
    }
    const AdapterInfo& info = (*adapter)->info;
    Removed removed;
    bool cached = false;
    {
      absl::MutexLock lock(&mu_);
      const absl::Time now = options_.clock->Now();
      const bool full = static_cast<int64_t>(by_id_.size()) + 1 > options_.max_adapters ||
                        bytes_ + info.size_bytes > options_.max_bytes;
      if (!full && info.expire_time > now && !by_id_.count(info.adapter_id)) {
        CacheLocked(*adapter, now, &removed);
        cached = true;
      }
    }
    Notify(removed);
    if (cached) {
      ++loaded;
      if (options_.on_insert) options_.on_insert(info);
    }
  }));
  return loaded;
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

void AdapterStore::RemoveLocked(ById::iterator it,
                                RemovalReason reason, Removed* removed) {
  const AdapterInfo& info = it->second.adapter->info;
  lru_.erase(it->second.lru);
  by_expiry_.erase({info.expire_time, info.adapter_id});
  if (!info.request_id.empty()) {
    auto req = by_request_.find(RequestKey(info.tenant, info.request_id));
    if (req != by_request_.end() && req->second == info.adapter_id) by_request_.erase(req);
  }
  bytes_ -= info.size_bytes;
  auto usage = usage_.find(info.tenant);
  if (usage != usage_.end()) {
    usage->second.adapters -= 1;
    usage->second.bytes -= info.size_bytes;
    if (usage->second.adapters <= 0) usage_.erase(usage);
  }
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

void AdapterStore::ReportError(const absl::Status& status) const {
  if (options_.on_error) options_.on_error(status);
}

}  // namespace adaptd::engine
