// Dynamic batching for one backbone: jobs from any number of requests and
// adapters are gathered until `max_batch_size` inputs or `max_delay` has
// passed since the oldest one arrived; then one backbone forward runs for the
// whole batch on one of the batcher's worker threads (on CUDA, each with its
// own stream, fed by asynchronous copies from page-locked memory). Jobs that carry a head get class
// probabilities, computed for all of them in one batched matmul over their
// gathered heads; jobs without one (the backbone pass of Adapt) get features.
// Scheduling is the same for every modality; only the staging of a batch's
// inputs differs: images are stacked, token ids are padded to the batch's
// longest text rounded up to a length bucket (TextLengthBucket).
//
// The queue is bounded: Submit refuses with RESOURCE_EXHAUSTED at once when
// it is full. Jobs whose deadline has passed or whose caller has gone away
// are dropped before they run. Destruction drains the queue. Thread-safe.
#ifndef ADAPTD_SERVER_ENGINE_BATCHING_BATCHER_H_
#define ADAPTD_SERVER_ENGINE_BATCHING_BATCHER_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/engine/base/adapter.h"
#include "server/engine/base/types.h"
#include "server/engine/batching/batching_options.h"
#include "server/engine/model/backbone.h"

namespace adaptd::engine {


// The padded length of a text batch whose longest text has `longest` tokens:
// the smallest of 16, 32, 64, ... that holds it, at most max_seq_length. So
// one long text costs only its own batch, and batches reuse few shapes.
int64_t TextLengthBucket(int64_t longest, int64_t max_seq_length);

struct BatchOutput {
  at::Tensor values;  // [n, C] probabilities with a head, else [n, D] features.
  double compute_seconds = 0;  // This job's share of the batch's device time.
  double queue_seconds = 0;
};

// Where a job joins the queue.
enum class Priority {
  kNormal,  // Behind every queued job; waits for its batch to fill.
  kUrgent,  // Ahead of every kNormal job, and flushes its batch at once.
};

class Batcher {
 public:
  using Done = std::function<void(absl::StatusOr<BatchOutput>)>;

  Batcher(std::shared_ptr<Backbone> backbone, const BatchingOptions& options);
  ~Batcher();

  // Queues `inputs` (on the CPU: images [n,C,H,W] float; text [n,T] ids
  // and mask, padded to the job's longest text). `head` may be null (then
  // features come back). `done` runs exactly once, on a worker thread, or
  // never if Submit returns an error. `ctx` must stay valid until `done`.
  // A kUrgent job (Adapt's backbone pass, which a caller waits on before
  // more work) goes ahead of every queued kNormal job and flushes a batch
  // at once instead of waiting for it to fill; others may ride along.
  absl::Status Submit(BackboneInput inputs, std::shared_ptr<const AdapterHead> head,
                      const CallContext* ctx, Done done,
                      Priority priority = Priority::kNormal);
  // Images only: [n,C,H,W] float on the CPU.
  absl::Status Submit(at::Tensor inputs, std::shared_ptr<const AdapterHead> head,
                      const CallContext* ctx, Done done,
                      Priority priority = Priority::kNormal);

  int queued_inputs() const;

 private:
  struct Job {
    BackboneInput inputs;
    std::shared_ptr<const AdapterHead> head;
    const CallContext* ctx;
    Done done;
    absl::Time enqueued;
    Priority priority;
  };

  void Loop();
  // Takes up to a batch of jobs off the queue, waiting for one to fill until
  // the oldest job's max_delay; empty once stopping and drained.
  std::vector<Job> NextBatch();
  // Answers jobs whose caller went away or whose deadline passed; returns the rest.
  static std::vector<Job> DropExpired(std::vector<Job>& jobs, absl::Time now);
  // One backbone forward over the jobs' inputs and their heads; answers each job.
  void RunBatch(std::vector<Job>& jobs);
  // The live jobs' inputs as one batch on the backbone's device.
  BackboneInput StageInputs(const std::vector<Job>& jobs, int64_t total) const;

  const std::shared_ptr<Backbone> backbone_;
  const BatchingOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  int queued_inputs_ ABSL_GUARDED_BY(mu_) = 0;
  int urgent_jobs_ ABSL_GUARDED_BY(mu_) = 0;  // All at the front of queue_.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_BATCHING_BATCHER_H_
