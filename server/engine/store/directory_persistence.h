// Adapters as files in one local folder: <adapter_id>.adapter, each a record
// in adapter_codec.h's format. For a single adaptd process (not shared).
//
// Writes are crash-safe: the record goes to <id>.adapter.tmp, which is
// fsynced, renamed over the final name, and the folder is fsynced, so after a
// crash a file is either absent or whole. Deletes fsync the folder too, so an
// acknowledged delete stays deleted. Leftover .tmp files are removed at open.
//
// Open() scans the folder once and keeps an index of every live record
// (tenant, request_id, size, expiry) in memory, for quotas, listing and
// idempotency. A file that fails its checksum or does not parse is skipped
// and reported through Options::on_error; the others load. Expired files are
// deleted when seen. Thread-safe.
#ifndef ADAPTD_SERVER_ENGINE_STORE_DIRECTORY_PERSISTENCE_H_
#define ADAPTD_SERVER_ENGINE_STORE_DIRECTORY_PERSISTENCE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/store/adapter_persistence.h"
#include "server/common/clock.h"

namespace adaptd::engine {

class DirectoryPersistence : public AdapterPersistence {
 public:
  struct Options {
    // The folder; created (with parents) if missing.
    std::string directory;
    // Time source for expiry; not owned.
    Clock* clock = Clock::Real();
    // Called for each file skipped at open (corrupt, unreadable). Empty:
    // ignored.
    std::function<void(const absl::Status&)> on_error;
  };

  // UNAVAILABLE if the folder cannot be created, read or written (a probe
  // file is written and removed), naming the path and the system's reason.
  static absl::StatusOr<std::unique_ptr<DirectoryPersistence>> Open(const Options& options);
  ~DirectoryPersistence() override;

  std::string Describe() const override;
  bool shared() const override { return false; }
  absl::StatusOr<std::string> Put(const AdapterInfo& info, absl::string_view bytes,
                                  const Quota& quota) override;
  absl::StatusOr<std::string> Get(const std::string& adapter_id) override;
  absl::StatusOr<bool> Exists(const std::string& adapter_id) override;
  absl::StatusOr<std::string> FindByRequestId(const std::string& tenant,
                                              const std::string& request_id) override;
  absl::Status Delete(const AdapterInfo& info) override;
  absl::StatusOr<ListChunk> List(const std::string& tenant, const std::string& after,
                                 int limit) override;
  absl::Status LoadAll(const std::function<void(AdapterRecord)>& visit) override;

  // Live records in the index (including writes in progress).
  int64_t size() const;

 private:
  struct Entry {
    std::string tenant;
    std::string request_id;
    int64_t size_bytes = 0;
    absl::Time expire_time;
    bool pending = false;  // Being written; not visible to readers yet.
  };
  struct Usage {
    int64_t adapters = 0;
    int64_t bytes = 0;
  };

  explicit DirectoryPersistence(const Options& options, int dir_fd)
      : options_(options), dir_fd_(dir_fd) {}
  absl::Status Scan();
  std::string PathOf(const std::string& adapter_id) const;
  void AddLocked(const std::string& id, Entry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets expired entries and deletes their files.
  void PruneLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteRecord(const std::string& id, absl::string_view bytes);
  absl::Status SyncDirectory();

  const Options options_;
  const int dir_fd_;
  mutable absl::Mutex mu_;
  absl::CondVar written_;  // Signalled when a pending entry settles.
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<std::string, std::string>> by_tenant_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<absl::Time, std::string>> by_expiry_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> by_request_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Usage> usage_ ABSL_GUARDED_BY(mu_);
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_STORE_DIRECTORY_PERSISTENCE_H_
