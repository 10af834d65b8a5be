#include "server/engine/store/directory_persistence.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/engine/store/adapter_codec.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"

namespace adaptd::engine {
namespace {

namespace fs = std::filesystem;

constexpr absl::string_view kSuffix = ".adapter";
constexpr absl::string_view kTempSuffix = ".tmp";

std::string ErrnoText(int err) {
  return absl::StrCat(std::error_code(err, std::generic_category()).message(), " (errno ", err,
                      ")");
}

// Every failure to use the disk is UNAVAILABLE: the adapter is not stored,
// and the caller may retry once the disk is fixed.
absl::Status IoError(absl::string_view op, const std::string& path, int err) {
  return absl::UnavailableError(
      absl::StrCat("adapter store: cannot ", op, " ", path, ": ", ErrnoText(err)));
}

std::string RequestKey(const std::string& tenant, const std::string& request_id) {
  return absl::StrCat(tenant.size(), ":", tenant, request_id);
}

// A stored record's bytes. NOT_FOUND if it does not exist; UNAVAILABLE if
// it cannot be read.
absl::StatusOr<std::string> ReadRecord(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (bytes.ok() || absl::IsNotFound(bytes.status())) return bytes;
  return absl::UnavailableError(absl::StrCat("adapter store: ", bytes.status().message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DirectoryPersistence>> DirectoryPersistence::Open(
    const Options& options) {
  if (options.directory.empty()) return absl::InvalidArgumentError("adapter_dir: is empty");
  if (options.clock == nullptr) return absl::InvalidArgumentError("clock is null");
  std::error_code ec;
  fs::create_directories(options.directory, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("adapter_dir: cannot create ", options.directory,
                                               ": ", ec.message()));
  }
  const int dir_fd = open(options.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return absl::UnavailableError(absl::StrCat("adapter_dir: cannot open ", options.directory,
                                               ": ", ErrnoText(errno)));
  }
  std::unique_ptr<DirectoryPersistence> dir(new DirectoryPersistence(options, dir_fd));
  // Fail at start, not at the first Adapt, when the folder is not writable.
  const std::string probe = options.directory + "/.adaptd-probe.tmp";
  absl::Status writable = WriteAndSync(probe, "probe", 0640);
  unlink(probe.c_str());
  if (!writable.ok()) {
    return absl::UnavailableError(absl::StrCat("adapter_dir: ", options.directory,
                                               " is not writable: ", writable.message()));
  }
  RETURN_IF_ERROR(dir->Scan());
  return dir;
}

DirectoryPersistence::~DirectoryPersistence() { close(dir_fd_); }

std::string DirectoryPersistence::Describe() const {
  return absl::StrCat("directory ", options_.directory);
}

std::string DirectoryPersistence::PathOf(const std::string& adapter_id) const {
  return absl::StrCat(options_.directory, "/", adapter_id, kSuffix);
}

int64_t DirectoryPersistence::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(entries_.size());
}

absl::Status DirectoryPersistence::Scan() {
  std::error_code ec;
  fs::directory_iterator it(options_.directory, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("adapter_dir: cannot list ", options_.directory, ": ", ec.message()));
  }
  const absl::Time now = options_.clock->Now();
  auto report = [this](absl::Status status) {
    if (options_.on_error) options_.on_error(status);
  };
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("adapter_dir: cannot list ", options_.directory, ": ", ec.message()));
    }
    const std::string name = it->path().filename().string();
    const std::string path = it->path().string();
    if (absl::EndsWith(name, kTempSuffix)) {
      unlink(path.c_str());  // A write cut short by a crash: never acknowledged.
      continue;
    }
    if (!absl::EndsWith(name, kSuffix)) continue;
    const std::string id = name.substr(0, name.size() - kSuffix.size());
    absl::StatusOr<std::string> bytes = ReadRecord(path);
    if (!bytes.ok()) {
      report(absl::Status(bytes.status().code(),
                          absl::StrCat("adapter store: skipping ", path, ": ",
                                       bytes.status().message())));
      continue;
    }
    absl::StatusOr<DecodedAdapter> decoded = DecodeAdapterRecord(*bytes);
    if (decoded.ok() && decoded->info.adapter_id != id) {
      decoded = absl::DataLossError(absl::StrCat("corrupt adapter record: it holds adapter \"",
                                                 decoded->info.adapter_id, "\""));
    }
    if (!decoded.ok()) {
      report(absl::Status(decoded.status().code(),
                          absl::StrCat("adapter store: skipping ", path, ": ",
                                       decoded.status().message())));
      continue;
    }
    const AdapterInfo& info = decoded->info;
    if (info.expire_time <= now) {
      unlink(path.c_str());
      continue;
    }
    Entry entry;
    entry.tenant = info.tenant;
    entry.request_id = info.request_id;
    entry.size_bytes = info.size_bytes;
    entry.expire_time = info.expire_time;
    absl::MutexLock lock(&mu_);
    AddLocked(id, std::move(entry));
  }
  return SyncDirectory();  // Makes the removals above stick.
}

void DirectoryPersistence::AddLocked(const std::string& id, Entry entry) {
  by_tenant_.emplace(entry.tenant, id);
  by_expiry_.emplace(entry.expire_time, id);
  if (!entry.request_id.empty()) by_request_[RequestKey(entry.tenant, entry.request_id)] = id;
  Usage& usage = usage_[entry.tenant];
  usage.adapters += 1;
  usage.bytes += entry.size_bytes;
  entries_[id] = std::move(entry);
}

void DirectoryPersistence::EraseLocked(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  const Entry& entry = it->second;
  by_tenant_.erase({entry.tenant, id});
  by_expiry_.erase({entry.expire_time, id});
  if (!entry.request_id.empty()) {
    auto req = by_request_.find(RequestKey(entry.tenant, entry.request_id));
    if (req != by_request_.end() && req->second == id) by_request_.erase(req);
  }
  auto usage = usage_.find(entry.tenant);
  if (usage != usage_.end()) {
    usage->second.adapters -= 1;
    usage->second.bytes -= entry.size_bytes;
    if (usage->second.adapters <= 0) usage_.erase(usage);
  }
  entries_.erase(it);
  written_.SignalAll();
}

void DirectoryPersistence::PruneLocked(absl::Time now) {
  std::vector<std::string> expired;
  for (auto it = by_expiry_.begin(); it != by_expiry_.end() && it->first <= now; ++it) {
    if (!entries_.at(it->second).pending) expired.push_back(it->second);
  }
  // An expired file that survives a crash is removed at the next open.
  for (const auto& id : expired) {
    unlink(PathOf(id).c_str());
    EraseLocked(id);
  }
}

absl::Status DirectoryPersistence::SyncDirectory() {
  if (fsync(dir_fd_) != 0) return IoError("fsync", options_.directory, errno);
  return absl::OkStatus();
}

absl::Status DirectoryPersistence::WriteRecord(const std::string& id, absl::string_view bytes) {
  const std::string path = PathOf(id);
  AtomicWriteOptions write;
  write.temp_suffix = std::string(kTempSuffix);
  write.mode = 0640;
  write.create_parents = false;
  absl::Status status = WriteFileAtomically(path, bytes, write);
  if (!status.ok())
    return absl::UnavailableError(absl::StrCat("adapter store: ", status.message()));
  status = SyncDirectory();
  // Not known to be durable, so not acknowledged: take it back.
  if (!status.ok()) unlink(path.c_str());
  return status;
}

absl::StatusOr<std::string> DirectoryPersistence::Put(const AdapterInfo& info,
                                                      absl::string_view bytes,
                                                      const Quota& quota) {
  const std::string& id = info.adapter_id;
  if (!IsValidAdapterId(id)) {
    return absl::InvalidArgumentError(absl::StrCat("adapter_id \"", id, "\" is not storable"));
  }
  {
    absl::MutexLock lock(&mu_);
    PruneLocked(options_.clock->Now());
    if (!info.request_id.empty()) {
      const std::string key = RequestKey(info.tenant, info.request_id);
      while (true) {
        auto req = by_request_.find(key);
        if (req == by_request_.end()) break;
        auto entry = entries_.find(req->second);
        if (entry == entries_.end()) break;
        if (!entry->second.pending) return req->second;  // Idempotent retry.
        written_.Wait(&mu_);  // The same request is being written; see how it ends.
      }
    }
    if (entries_.count(id)) {
      return absl::AlreadyExistsError(absl::StrCat("adapter_id \"", id, "\" already exists"));
    }
    const Usage usage = usage_.count(info.tenant) ? usage_.at(info.tenant) : Usage{};
    if (quota.max_adapters > 0 && usage.adapters + 1 > quota.max_adapters) {
      return TenantOverQuota(info.tenant, quota.max_adapters, "adapters");
    }
    if (quota.max_bytes > 0 && usage.bytes + info.size_bytes > quota.max_bytes) {
      return TenantOverQuota(info.tenant, quota.max_bytes, "bytes");
    }
    Entry entry;
    entry.tenant = info.tenant;
    entry.request_id = info.request_id;
    entry.size_bytes = info.size_bytes;
    entry.expire_time = info.expire_time;
    entry.pending = true;  // Holds the quota and the request id while writing.
    AddLocked(id, std::move(entry));
  }
  absl::Status written = WriteRecord(id, bytes);
  absl::MutexLock lock(&mu_);
  if (!written.ok()) {
    EraseLocked(id);
    return written;
  }
  entries_.at(id).pending = false;
  written_.SignalAll();
  return id;
}

absl::StatusOr<std::string> DirectoryPersistence::Get(const std::string& adapter_id) {
  auto not_found = [&] {
    return absl::NotFoundError(absl::StrCat("adapter \"", adapter_id, "\" is not stored"));
  };
  if (!IsValidAdapterId(adapter_id)) return not_found();
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(adapter_id);
    if (it == entries_.end() || it->second.pending ||
        it->second.expire_time <= options_.clock->Now()) {
      return not_found();
    }
  }
  absl::StatusOr<std::string> bytes = ReadRecord(PathOf(adapter_id));
  if (absl::IsNotFound(bytes.status())) return not_found();  // Deleted meanwhile.
  return bytes;
}

absl::StatusOr<bool> DirectoryPersistence::Exists(const std::string& adapter_id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(adapter_id);
  return it != entries_.end() && !it->second.pending &&
         it->second.expire_time > options_.clock->Now();
}

absl::StatusOr<std::string> DirectoryPersistence::FindByRequestId(
    const std::string& tenant, const std::string& request_id) {
  absl::MutexLock lock(&mu_);
  auto req = by_request_.find(RequestKey(tenant, request_id));
  if (req != by_request_.end()) {
    auto it = entries_.find(req->second);
    if (it != entries_.end() && !it->second.pending &&
        it->second.expire_time > options_.clock->Now()) {
      return req->second;
    }
  }
  return absl::NotFoundError("no adapter for this request_id");
}

absl::Status DirectoryPersistence::Delete(const AdapterInfo& info) {
  const std::string& id = info.adapter_id;
  if (!IsValidAdapterId(id)) return absl::OkStatus();  // Never stored.
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  while (it != entries_.end() && it->second.pending) {
    written_.Wait(&mu_);
    it = entries_.find(id);
  }
  if (it == entries_.end()) return absl::OkStatus();
  const std::string path = PathOf(id);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return IoError("delete", path, errno);
  EraseLocked(id);
  return SyncDirectory();
}

absl::StatusOr<AdapterPersistence::ListChunk> DirectoryPersistence::List(
    const std::string& tenant, const std::string& after, int limit) {
  std::vector<std::string> ids;
  ListChunk chunk;
  {
    absl::MutexLock lock(&mu_);
    PruneLocked(options_.clock->Now());
    for (auto it = by_tenant_.upper_bound({tenant, after});
         it != by_tenant_.end() && it->first == tenant; ++it) {
      if (static_cast<int>(ids.size()) == limit) {
        chunk.next_after = ids.back();
        break;
      }
      if (!entries_.at(it->second).pending) ids.push_back(it->second);
    }
  }
  for (const auto& id : ids) {
    absl::StatusOr<std::string> bytes = ReadRecord(PathOf(id));
    if (absl::IsNotFound(bytes.status())) continue;  // Deleted meanwhile.
    if (!bytes.ok()) return bytes.status();
    chunk.records.push_back({id, *std::move(bytes)});
  }
  return chunk;
}

absl::Status DirectoryPersistence::LoadAll(const std::function<void(AdapterRecord)>& visit) {
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    PruneLocked(options_.clock->Now());
    for (const auto& [tenant, id] : by_tenant_) {
      if (!entries_.at(id).pending) ids.push_back(id);
    }
  }
  for (const auto& id : ids) {
    absl::StatusOr<std::string> bytes = ReadRecord(PathOf(id));
    if (absl::IsNotFound(bytes.status())) continue;
    if (!bytes.ok()) {
      if (options_.on_error) options_.on_error(bytes.status());
      continue;
    }
    visit({id, *std::move(bytes)});
  }
  return absl::OkStatus();
}

}  // namespace adaptd::engine
