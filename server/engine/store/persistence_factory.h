// Opens the adapter persistence named by the --adapter_store flags. Kept
// apart from the interface (adapter_persistence.h) so that the interface
// does not know its implementations.
#ifndef ADAPTD_SERVER_ENGINE_STORE_PERSISTENCE_FACTORY_H_
#define ADAPTD_SERVER_ENGINE_STORE_PERSISTENCE_FACTORY_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/clock.h"
#include "server/engine/store/adapter_persistence.h"

namespace adaptd::engine {

// Which backend, and its settings: the --adapter_store family of flags.
struct PersistenceOptions {
  // "memory" (no persistence), "directory" or "redis".
  std::string backend = "memory";
  // directory: the folder, created if missing; one file per adapter.
  std::string directory;
  // redis: host:port of the server.
  std::string redis_address = "127.0.0.1:6379";
  // redis: limit on connecting and on each command.
  absl::Duration redis_timeout = absl::Seconds(1);
  // redis: prefix of every key, so deployments can share one Redis.
  std::string redis_key_prefix = "adaptd:";
  // redis: most connections open at once.
  int redis_connections = 4;
  // Problems no caller sees (a corrupt file skipped at start). Empty: stderr.
  std::function<void(const absl::Status&)> on_error;
};

// nullptr for "memory". The directory is opened and scanned, Redis is
// connected to and pinged, so a bad setting fails here: INVALID_ARGUMENT for
// an unknown backend or a missing setting, UNAVAILABLE when the directory or
// Redis cannot be used.
absl::StatusOr<std::shared_ptr<AdapterPersistence>> OpenAdapterPersistence(
    const PersistenceOptions& options, Clock* clock);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_STORE_PERSISTENCE_FACTORY_H_
