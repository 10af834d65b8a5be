#include "server/engine/batching/batcher.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/engine/adapt/adapter_head.h"
#include "server/engine/model/backbone.h"
#include "server/engine/runtime/device_scope.h"
#include "server/engine/runtime/torch_util.h"

namespace adaptd::engine {

Batcher::Batcher(std::shared_ptr<Backbone> backbone, const BatchingOptions& options)
    : backbone_(std::move(backbone)), options_(options) {
  int workers = options_.workers;
  if (workers <= 0) workers = backbone_->device().is_cuda() ? 2 : 1;
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { Loop(); });
}

Batcher::~Batcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& worker : workers_) worker.join();
}

int64_t TextLengthBucket(int64_t longest, int64_t max_seq_length) {
  int64_t bucket = 16;
  while (bucket < longest) bucket *= 2;
  return std::max<int64_t>(std::min(bucket, max_seq_length), longest);
}

absl::Status Batcher::Submit(at::Tensor inputs, std::shared_ptr<const AdapterHead> head,
                             const CallContext* ctx, Done done, Priority priority) {
  return Submit(BackboneInput{std::move(inputs), at::Tensor()}, std::move(head), ctx,
                std::move(done), priority);
}

absl::Status Batcher::Submit(BackboneInput inputs, std::shared_ptr<const AdapterHead> head,
                             const CallContext* ctx, Done done, Priority priority) {
  const int n = static_cast<int>(inputs.rows());
  int depth = 0;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    if (queued_inputs_ > 0 && queued_inputs_ + n > options_.max_queued_inputs) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "backbone ", backbone_->info().name, " is overloaded: ", queued_inputs_,
          " inputs already queued (limit ", options_.max_queued_inputs, "); retry with backoff"));
    }
    Job job{std::move(inputs), std::move(head), ctx, std::move(done), absl::Now(), priority};
    if (priority == Priority::kUrgent) {
      queue_.insert(queue_.begin() + urgent_jobs_, std::move(job));
      ++urgent_jobs_;
    } else {
      queue_.push_back(std::move(job));
    }
    queued_inputs_ += n;
    depth = queued_inputs_;
  }
  if (options_.on_queue_depth) options_.on_queue_depth(backbone_->info().name, depth);
  return absl::OkStatus();
}

int Batcher::queued_inputs() const {
  absl::MutexLock lock(&mu_);
  return queued_inputs_;
}

void Batcher::Loop() {
  for (;;) {
    std::vector<Job> jobs = NextBatch();
    if (jobs.empty()) return;  // Stopping, and drained.
    RunBatch(jobs);
  }
}

std::vector<Batcher::Job> Batcher::NextBatch() {
  const int max_batch = std::max(1, options_.max_batch_size);
  std::vector<Job> jobs;
  int depth = 0;
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](Batcher* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) {
          return b->stopping_ || !b->queue_.empty();
        },
        this));
    if (queue_.empty()) return jobs;
    const absl::Time flush_at = queue_.front().enqueued + options_.max_delay;
    struct Ready {
      Batcher* b;
      int max_batch;
    } ready{this, max_batch};
    mu_.AwaitWithDeadline(absl::Condition(
                              +[](Ready* r) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                return r->b->stopping_ || r->b->urgent_jobs_ > 0 ||
                                       r->b->queued_inputs_ >= r->max_batch;
                              },
                              &ready),
                          flush_at);
    int taken = 0;
    while (!queue_.empty()) {
      const int n = static_cast<int>(queue_.front().inputs.rows());
      if (!jobs.empty() && taken + n > max_batch) break;
      taken += n;
      queued_inputs_ -= n;
      if (queue_.front().priority == Priority::kUrgent) --urgent_jobs_;
      jobs.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    depth = queued_inputs_;
  }
  if (options_.on_queue_depth) options_.on_queue_depth(backbone_->info().name, depth);
  return jobs;
}

std::vector<Batcher::Job> Batcher::DropExpired(std::vector<Job>& jobs, absl::Time now) {
  std::vector<Job> live;
  for (auto& job : jobs) {
    if (job.ctx != nullptr && job.ctx->IsCancelled()) {
      job.done(absl::CancelledError("cancelled while queued"));
    } else if (job.ctx != nullptr && now > job.ctx->deadline) {
      job.done(absl::DeadlineExceededError("deadline exceeded while queued"));
    } else {
      live.push_back(std::move(job));
    }
  }
  return live;
}

namespace {

// The jobs' images as one [total, C, H, W] batch on `device`. On CUDA each
// part goes straight to its rows, copied asynchronously on the current
// stream (from page-locked memory when the caller decoded into it, as the
// engine does).
at::Tensor StageImages(const std::vector<at::Tensor>& parts, int64_t total, c10::Device device) {
  if (!device.is_cuda()) return parts.size() == 1 ? parts[0] : torch::cat(parts);
  at::Tensor batch = at::empty({total, parts[0].size(1), parts[0].size(2), parts[0].size(3)},
                               at::TensorOptions().device(device));
  int64_t row = 0;
  for (const auto& part : parts) {
    batch.narrow(0, row, part.size(0)).copy_(part, /*non_blocking=*/true);
    row += part.size(0);
  }
  return batch;
}

// The jobs' token ids and masks as one [total, T] batch on `device`, T the
// longest job's length rounded up to its length bucket; the rest is padding
// (pad id, mask 0).
BackboneInput StageText(const std::vector<const BackboneInput*>& parts, int64_t total,
                        const Backbone& backbone) {
  int64_t longest = 0;
  for (const auto* part : parts) longest = std::max(longest, part->values.size(1));
  const int64_t t = TextLengthBucket(longest, backbone.info().text.max_seq_length);
  at::Tensor ids = torch::full({total, t}, backbone.pad_id(), torch::kLong);
  at::Tensor mask = torch::zeros({total, t}, torch::kLong);
  int64_t row = 0;
  for (const auto* part : parts) {
    const int64_t n = part->rows(), len = part->values.size(1);
    ids.narrow(0, row, n).narrow(1, 0, len).copy_(part->values);
    mask.narrow(0, row, n).narrow(1, 0, len).copy_(part->attention_mask);
    row += n;
  }
  const c10::Device device = backbone.device();
  return {ids.to(device, /*non_blocking=*/true), mask.to(device, /*non_blocking=*/true)};
}

}  // namespace

BackboneInput Batcher::StageInputs(const std::vector<Job>& jobs, int64_t total) const {
  if (backbone_->is_text()) {
    std::vector<const BackboneInput*> parts;
    for (const auto& job : jobs) parts.push_back(&job.inputs);
    return StageText(parts, total, *backbone_);
  }
  std::vector<at::Tensor> parts;
  for (const auto& job : jobs) parts.push_back(job.inputs.values);
  return {StageImages(parts, total, backbone_->device()), at::Tensor()};
}

void Batcher::RunBatch(std::vector<Job>& jobs) {
  const std::string& name = backbone_->info().name;
  const absl::Time now = absl::Now();
  std::vector<Job> live = DropExpired(jobs, now);
  if (live.empty()) return;
  int total = 0;
  for (const auto& job : live) total += static_cast<int>(job.inputs.rows());
  if (options_.on_batch) options_.on_batch(name, total);

  std::vector<BatchOutput> outputs(live.size());
  const c10::Device device = backbone_->device();
  DeviceScope scope(device);
  absl::Status status = GuardTorch("batch on " + name, [&]() -> absl::Status {
    c10::InferenceMode guard;
    std::vector<HeadRows> heads;
    int64_t row = 0;
    for (const auto& job : live) {
      if (job.head) heads.push_back({job.head.get(), row, job.inputs.rows()});
      row += job.inputs.rows();
    }
    at::Tensor features;
    {
      AutocastScope autocast(device, options_.autocast);
      ASSIGN_OR_RETURN(features, backbone_->Features(StageInputs(live, total)));
    }
    // One copy back for the whole batch; Predict reads its rows on the CPU.
    const at::Tensor probs = heads.empty() ? at::Tensor() : ApplyHeads(features, heads).cpu();
    int64_t offset = 0, head_offset = 0;
    for (size_t i = 0; i < live.size(); ++i) {
      const int64_t n = live[i].inputs.rows();
      if (live[i].head) {
        outputs[i].values = probs.narrow(0, head_offset, n).narrow(1, 0, live[i].head->classes());
        head_offset += n;
      } else {
        outputs[i].values = features.narrow(0, offset, n);
      }
      offset += n;
    }
    return absl::OkStatus();
  });
  const double compute = scope.Finish();
  for (size_t i = 0; i < live.size(); ++i) {
    if (!status.ok()) {
      live[i].done(status);
      continue;
    }
    outputs[i].compute_seconds = compute * live[i].inputs.rows() / total;
    outputs[i].queue_seconds = absl::ToDoubleSeconds(now - live[i].enqueued);
    if (options_.on_dequeue) options_.on_dequeue(name, outputs[i].queue_seconds);
    live[i].done(std::move(outputs[i]));
  }
}

}  // namespace adaptd::engine
