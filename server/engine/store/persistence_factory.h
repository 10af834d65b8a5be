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
#include "server/common/log.h"
#include "server/engine/store/adapter_persistence.h"

namespace adaptd::engine {

// A change of the adapter store's health, for log lines and metrics.
struct StoreHealthChange {
  bool healthy = true;
  std::string store;  // Describe(): "redis 10.0.0.5:6379".
  // Unhealthy: the failure that made calls fail fast.
  absl::Status cause;
  // Unhealthy: how long calls fail fast before the next try. Healthy again:
  // how long it was unhealthy.
  absl::Duration duration;
};

// One log line for `change`: a warning when the store becomes unhealthy,
// info when it is healthy again.
void LogStoreHealth(Logger& logger, const StoreHealthChange& change);

// Which backend, and its settings: the --adapter_store family of flags.
struct PersistenceOptions {
  // "memory" (no persistence), "directory" or "redis".
  std::string backend = "memory";
  // directory: the folder, created if missing; one file per adapter.
  std::string directory;
  // redis: host:port of the server.
  std::string redis_address = "127.0.0.1:6379";
  // redis: limit on each call end to end (waiting for a connection,
  // connecting, the round trip).
  absl::Duration redis_timeout = absl::Seconds(1);
  // redis: prefix of every key, so deployments can share one Redis.
  std::string redis_key_prefix = "adaptd:";
  // redis: most connections open at once.
  int redis_connections = 4;
  // Problems no caller sees (a corrupt file skipped at start). Empty: stderr.
  std::function<void(const absl::Status&)> on_error;
  // redis: hears the store become unhealthy (calls fail fast) and healthy
  // again, from the thread whose call saw it. Empty: LogStoreHealth to the
  // process's logger.
  std::function<void(const StoreHealthChange&)> on_health;
};

// nullptr for "memory". The directory is opened and scanned, Redis is
// connected to and pinged, so a bad setting fails here: INVALID_ARGUMENT for
// an unknown backend or a missing setting, UNAVAILABLE when the directory or
// Redis cannot be used.
absl::StatusOr<std::shared_ptr<AdapterPersistence>> OpenAdapterPersistence(
    const PersistenceOptions& options, Clock* clock);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_STORE_PERSISTENCE_FACTORY_H_
