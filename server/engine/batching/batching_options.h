// How a backbone's batcher gathers and runs its batches (batcher.h). No
// LibTorch, so the engine's options can carry it.
#ifndef ADAPTD_SERVER_ENGINE_BATCHING_BATCHING_OPTIONS_H_
#define ADAPTD_SERVER_ENGINE_BATCHING_BATCHING_OPTIONS_H_

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "server/engine/runtime/autocast.h"

namespace adaptd::engine {

struct BatchingOptions {
  // Most inputs in one backbone forward.
  int max_batch_size = 64;
  // Longest a job waits for others to join its batch.
  absl::Duration max_delay = absl::Milliseconds(2);
  // Most inputs waiting; beyond it Submit answers RESOURCE_EXHAUSTED.
  int max_queued_inputs = 8192;
  // Mixed precision for the backbone forward; heads and outputs stay fp32.
  Autocast autocast = Autocast::kOff;
  // Threads running batches, each on its own CUDA stream, so that one
  // batch's copy-in overlaps another's compute. 0: 2 on CUDA, 1 on the CPU
  // (where LibTorch's intra-op threads already use every core).
  int workers = 0;
  // Observers for metrics; each may be empty. Called on the batcher thread.
  std::function<void(const std::string& backbone, int batch_size)> on_batch;
  std::function<void(const std::string& backbone, double queue_seconds)> on_dequeue;
  std::function<void(const std::string& backbone, int queued_inputs)> on_queue_depth;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_BATCHING_BATCHING_OPTIONS_H_
