// The engine's command-line flags, defined once for every binary that runs
// an engine (adaptd, and adaptd-bench's in-process mode), so that both take
// the same names and defaults: --model_repository, --device, --autocast,
// LibTorch threads, batching, request limits, the adapter store and its
// persistence.
#ifndef ADAPTD_SERVER_ENGINE_FLAGS_H_
#define ADAPTD_SERVER_ENGINE_FLAGS_H_

#include "server/engine/engine_options.h"

namespace adaptd {

// The engine options the flags give (callbacks left empty). Call after
// absl::ParseCommandLine.
engine::EngineOptions EngineOptionsFromFlags();

}  // namespace adaptd

#endif  // ADAPTD_SERVER_ENGINE_FLAGS_H_
