// The in-process target: adaptd's engine called directly, without gRPC or
// protos, on the same inputs. It is the raw engine baseline that the gRPC
// figures are held against. Thread-safe.
//
// Predict goes through Engine::PredictAsync, as adaptd's service does:
// decoding runs on one of `threads` caller threads, the backbone pass on the
// engine's batcher, so in-flight Predicts do not hold a thread each. Adapt
// is synchronous and holds a caller thread for its whole run.
//
//   EngineTargetOptions options;
//   options.engine = EngineOptionsFromFlags();  // server/engine_flags.h
//   options.threads = 64;
//   ASSIGN_OR_RETURN(std::unique_ptr<Target> target, NewEngineTarget(options));
#ifndef ADAPTD_CLIENT_BENCH_ENGINE_TARGET_H_
#define ADAPTD_CLIENT_BENCH_ENGINE_TARGET_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/bench/target.h"
#include "server/engine/engine.h"

namespace adaptd::bench {

struct EngineTargetOptions {
  // The engine, as adaptd's flags of the same names set it.
  engine::EngineOptions engine;
  // Threads calling the engine. Calls beyond them wait in a queue, and the
  // wait counts in their latency.
  int threads = 64;
  // Tenants the calls run as: "default" when 1 (as adaptd without auth),
  // else "bench-tenant-0" ... .
  int tenants = 1;
};

// Loads the engine from options.engine.model_repository.
absl::StatusOr<std::unique_ptr<Target>> NewEngineTarget(const EngineTargetOptions& options);

// Drives an engine owned by the caller, which must outlive the target; the
// engine fields of `options` are ignored.
std::unique_ptr<Target> NewEngineTarget(engine::Engine* engine, const EngineTargetOptions& options);

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_ENGINE_TARGET_H_
