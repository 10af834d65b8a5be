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
// Not thread-safe while training; concurrent Update() calls in eval mode
// under no-grad are safe.
#ifndef ADAPTD_SERVER_ENGINE_META_LEARNER_H_
#define ADAPTD_SERVER_ENGINE_META_LEARNER_H_

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
  static constexpr int kInputs = 11;
  explicit MetaLearnerImpl(double inner_lr = 0.01, int64_t hidden = 32);

  // The updates to subtract from `params` (in order: the head weight, the
  // head bias, the head's log-scale; `grads` matches) at adaptation step
  // `step` of `steps`. Differentiable in all inputs.
  std::vector<torch::Tensor> Update(const std::vector<torch::Tensor>& params,
                                    const std::vector<torch::Tensor>& grads, int step,
                                    int steps, const torch::Tensor& loss,
                                    const TaskStats& stats);

  int64_t parameter_count() const;

 private:
  torch::nn::Sequential mlp_{nullptr};
  torch::Tensor log_lr_;  // [3]: weight, bias, log-scale.
};
TORCH_MODULE(MetaLearner);

absl::Status SaveMetaLearner(MetaLearner& meta, const std::string& path);
// Loads into `meta` (constructed with the default sizes).
absl::Status LoadMetaLearner(const std::string& path, MetaLearner* meta);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_META_LEARNER_H_
