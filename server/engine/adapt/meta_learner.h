// The meta-learner: a compact network that turns task feedback into updates
// of the task head's parameters. For every scalar parameter it sees the
// gradient (log-magnitude and sign), the parameter, the step, the support
// loss, which tensor it belongs to, and statistics of the support set (ways,
// shots, spread). Besides the weight and bias it adapts a log-scale of the
// head (a temperature, folded into weight and bias at the end). It outputs a per-coordinate step size, so that every
// update stays a preconditioned descent step:
//
//   update = exp(log_lr[kind] + mlp(inputs)) * grad
//
// AdaptHead keeps a step only if it does not raise the support loss, which
// bounds the harm of an overshooting update on tasks unlike the training ones.
//
// Its last layer starts at zero, so the untrained meta-learner is plain SGD
// at the inner learning rate; meta-training (adapt-train metatrain) learns the
// rest. Its size does not depend on the number of ways or the feature size.
// Not thread-safe while training; concurrent Prepare() and Update() calls in
// eval mode under no-grad are safe.
#ifndef ADAPTD_SERVER_ENGINE_ADAPT_META_LEARNER_H_
#define ADAPTD_SERVER_ENGINE_ADAPT_META_LEARNER_H_

#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include "absl/status/status.h"

namespace adaptd::engine {

// Statistics of a support set that condition the update.
struct TaskStats {
  double ways = 0;
  double shots = 0;    // Mean examples per class.
  torch::Tensor spread;  // Scalar: mean squared distance to the class prototype.
};

class MetaLearnerImpl : public torch::nn::Module {
 public:
  // Inputs besides the one-hot kind: g1, g2, |parameter|, loss, spread,
  // progress, log ways, log shots.
  static constexpr int kSharedInputs = 8;
  // The tensors it adapts, each with its own step size and one-hot input:
  // the head's weight, bias and log-scale.
  static constexpr int64_t kKinds = 3;
  explicit MetaLearnerImpl(double inner_lr = 0.01, int64_t hidden = 32);

  // What Update needs that is the same at every step of one task: each
  // coordinate's base step size and the inputs that depend only on the task
  // and on which tensor the coordinate belongs to. Made once per task, so
  // that a step dispatches as few LibTorch ops as it can: on a GPU each is a
  // kernel launch and its host-side work, and they dominate a step.
  struct Plan {
    torch::Tensor lr;        // [N]: exp(log_lr) of each coordinate's tensor.
    torch::Tensor spread;    // [N, 1], expanded.
    torch::Tensor per_kind;  // [N, kKinds + 2]: the one-hot kind, log ways, log shots.
  };
  // `sizes`: the coordinates of each kind of tensor, in order: for the head,
  // its weight, its bias and its log-scale (kKinds of them). Differentiable in the meta-learner's parameters.
  Plan Prepare(const std::vector<int64_t>& sizes, const TaskStats& stats,
               const torch::TensorOptions& options);

  // The update to subtract from `params`, the adapted tensors flattened
  // into one in Prepare's order (`grads` matches), at adaptation
  // step `step` of `steps`. Differentiable in all inputs.
  torch::Tensor Update(const Plan& plan, const torch::Tensor& params,
                       const torch::Tensor& grads, int step, int steps,
                       const torch::Tensor& loss);

  int64_t parameter_count() const;

 private:
  torch::nn::Sequential mlp_{nullptr};
  torch::Tensor log_lr_;  // [kKinds]: for the head, weight, bias, log-scale.
};
TORCH_MODULE(MetaLearner);

absl::Status SaveMetaLearner(MetaLearner& meta, const std::string& path);
// Loads into `meta` (constructed with the default sizes).
absl::Status LoadMetaLearner(const std::string& path, MetaLearner* meta);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ADAPT_META_LEARNER_H_
