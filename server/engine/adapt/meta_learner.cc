#include "server/engine/adapt/meta_learner.h"

#include <cmath>

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>
#include <torch/serialize.h>

#include "absl/strings/str_cat.h"
#include "server/engine/base/types.h"
#include "server/engine/runtime/torch_util.h"

namespace adaptd::engine {
namespace nn = torch::nn;

MetaLearnerImpl::MetaLearnerImpl(double inner_lr, int64_t hidden) {
  nn::Linear out(hidden, 1);
  mlp_ = register_module("mlp", nn::Sequential(nn::Linear(kSharedInputs + kKinds, hidden), nn::Tanh(),
                                               nn::Linear(hidden, hidden), nn::Tanh(), out));
  {
    torch::NoGradGuard no_grad;
    out->weight.zero_();
    out->bias.zero_();
  }
  log_lr_ = register_parameter("log_lr", torch::full({kKinds}, std::log(inner_lr)));
}

MetaLearnerImpl::Plan MetaLearnerImpl::Prepare(const std::vector<int64_t>& sizes,
                                               const TaskStats& stats,
                                               const torch::TensorOptions& options) {
  const int64_t kinds = kKinds;
  TORCH_CHECK(static_cast<int64_t>(sizes.size()) == kinds, "the meta-learner adapts ", kinds,
              " tensors, got ", sizes.size());
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < kinds; ++i) {
    parts.push_back(torch::full({sizes[i]}, i, options.dtype(torch::kLong)));
  }
  auto kind = torch::cat(parts);
  // Made on the device (no host-to-device copy, which would sync a GPU).
  auto column = [&](double value) { return torch::full({kinds, 1}, value, options); };
  Plan plan;
  plan.lr = log_lr_.exp().index_select(0, kind);
  plan.spread = stats.spread.to(options.dtype()).reshape({1, 1}).expand({kind.size(0), 1});
  plan.per_kind = torch::cat({torch::eye(kinds, options),
                              column(std::log(std::max(stats.ways, 1.0))),
                              column(std::log(std::max(stats.shots, 1.0)))},
                             1)
                      .index_select(0, kind);
  return plan;
}

torch::Tensor MetaLearnerImpl::Update(const Plan& plan, const torch::Tensor& params,
                                      const torch::Tensor& grads, int step, int steps,
                                      const torch::Tensor& loss) {
  constexpr double kP = 10.0;  // Gradient preprocessing of Andrychowicz et al.
  // Every coordinate of every tensor in one column, so that the network runs
  // once per step: the update is per coordinate, and a few large kernels
  // beat three rounds of small ones.
  //
  // log|g| / P, and |g| e^P, each clipped where the other takes over: the
  // preprocessing's two regimes with |g| = e^-P as the border. Magnitudes
  // only: the update keeps the gradient's sign, so the learned rule scales
  // descent steps and cannot turn them around.
  const int64_t n = grads.size(0);
  auto magnitude = grads.abs();
  auto g1 = torch::log(magnitude.clamp_min(std::exp(-kP))) / kP;
  auto g2 = (magnitude * std::exp(kP)).clamp_max(1.0);
  // The inputs, in the network's order: g1, g2, |parameter|, loss, spread,
  // progress, then Prepare's one-hot kind, log ways and log shots.
  const double progress = static_cast<double>(step) / std::max(steps, 1);
  auto x = torch::cat({torch::stack({g1, g2, params.abs()}, 1),
                       loss.to(grads.scalar_type()).reshape({1, 1}).expand({n, 1}), plan.spread,
                       torch::full({1, 1}, progress, grads.options()).expand({n, 1}),
                       plan.per_kind},
                      1);
  auto o = mlp_->forward(x);
  return torch::exp(o.squeeze(1).clamp(-6, 6)) * plan.lr * grads;
}

int64_t MetaLearnerImpl::parameter_count() const {
  int64_t count = 0;
  for (const auto& p : parameters()) count += p.numel();
  return count;
}

absl::Status SaveMetaLearner(MetaLearner& meta, const std::string& path) {
  return GuardTorch("saving the meta-learner", [&]() -> absl::Status {
    torch::save(meta, path);
    return absl::OkStatus();
  });
}

absl::Status LoadMetaLearner(const std::string& path, MetaLearner* meta) {
  return GuardTorch("loading the meta-learner " + path, [&]() -> absl::Status {
    // LibTorch's load takes whatever shapes the file has, so a file made for
    // another hidden width would load and then fail at
    // every adaptation. Refuse it here instead.
    std::vector<std::pair<std::string, std::vector<int64_t>>> expected;
    for (const auto& p : (*meta)->named_parameters()) {
      expected.emplace_back(p.key(), p.value().sizes().vec());
    }
    torch::load(*meta, path);
    for (const auto& [name, sizes] : expected) {
      auto loaded = (*meta)->named_parameters()[name].sizes().vec();
      if (loaded != sizes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "meta_learner_file: ", path, " has ", name, " of shape ", ShapeString(loaded),
            " where this meta-learner has ", ShapeString(sizes)));
      }
    }
    (*meta)->eval();
    return absl::OkStatus();
  });
}

}  // namespace adaptd::engine
