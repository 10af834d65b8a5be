#include "server/engine/store/persistence_factory.h"

#include "server/engine/store/directory_persistence.h"
#include "server/engine/store/redis_persistence.h"
#include "server/common/log.h"
#include "server/common/status_macros.h"
#include "absl/strings/str_cat.h"

namespace adaptd::engine {

void LogStoreHealth(Logger& logger, const StoreHealthChange& change) {
  if (change.healthy) {
    logger.Info("adapter store healthy again",
                {{"store", change.store},
                 {"unhealthy_seconds", absl::ToDoubleSeconds(change.duration)}});
    return;
  }
  logger.Warning("adapter store unhealthy: calls fail fast until it answers again",
                 {{"store", change.store},
                  {"error", change.cause.message()},
                  {"retry_in_seconds", absl::ToDoubleSeconds(change.duration)}});
}

absl::StatusOr<std::shared_ptr<AdapterPersistence>> OpenAdapterPersistence(
    const PersistenceOptions& options, Clock* clock) {
  if (options.backend == "memory" || options.backend.empty()) return nullptr;
  auto on_error = options.on_error;
  if (!on_error) {
    on_error = [](const absl::Status& status) {
      ProcessLogger().Error("adapter store error", {{"error", status.message()}});
    };
  }
  if (options.backend == "directory") {
    if (options.directory.empty()) {
      return absl::InvalidArgumentError(
          "adapter_dir: must be set for --adapter_store=directory");
    }
    DirectoryPersistence::Options o;
    o.directory = options.directory;
    o.clock = clock;
    o.on_error = on_error;
    ASSIGN_OR_RETURN(auto directory, DirectoryPersistence::Open(o));
    return std::shared_ptr<AdapterPersistence>(std::move(directory));
  }
  if (options.backend == "redis") {
    RedisPersistence::Options o;
    o.address = options.redis_address;
    o.connect_timeout = options.redis_timeout;
    o.command_timeout = options.redis_timeout;
    o.key_prefix = options.redis_key_prefix;
    o.max_connections = options.redis_connections;
    o.clock = clock;
    o.on_health = [on_health = options.on_health,
                   store = absl::StrCat("redis ", o.address)](const CircuitBreaker::Change& c) {
      const StoreHealthChange change{c.healthy, store, c.cause, c.duration};
      if (on_health) {
        on_health(change);
      } else {
        LogStoreHealth(ProcessLogger(), change);
      }
    };
    ASSIGN_OR_RETURN(auto redis, RedisPersistence::Connect(o));
    return std::shared_ptr<AdapterPersistence>(std::move(redis));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "adapter_store: unknown backend \"", options.backend, "\"; use memory, directory or redis"));
}

}  // namespace adaptd::engine
