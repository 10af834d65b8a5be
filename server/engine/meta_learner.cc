#include "server/engine/meta_learner.h"

#include <cmath>

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>
#include <torch/serialize.h>

#include "server/engine/torch_util.h"

namespace adaptd::engine {
namespace nn = torch::nn;

MetaLearnerImpl::MetaLearnerImpl(double inner_lr, int64_t hidden) {
  nn::Linear out(hidden, 1);
  mlp_ = register_module("mlp", nn::Sequential(nn::Linear(kInputs, hidden), nn::Tanh(),
                                               nn::Linear(hidden, hidden), nn::Tanh(), out));
  {
    torch::NoGradGuard no_grad;
    out->weight.zero_();
    out->bias.zero_();
  }
  log_lr_ = register_parameter("log_lr", torch::full({3}, std::log(inner_lr)));
}

torch::Tensor MetaLearnerImpl::Update(const torch::Tensor& param, const torch::Tensor& grad,
                                      int kind, int step, int steps,
                                      const torch::Tensor& loss, const TaskStats& stats) {
  constexpr double kP = 10.0;  // Gradient preprocessing of Andrychowicz et al.
  auto g = grad.reshape({-1, 1});
  auto magnitude = g.abs();
  auto big = magnitude >= std::exp(-kP);
  auto g1 = torch::where(big, torch::log(magnitude.clamp_min(1e-20)) / kP,
                         torch::full_like(g, -1.0));
  auto g2 = torch::where(big, torch::sign(g), g * std::exp(kP));
  const int64_t n = g.size(0);
  auto opts = g.options();
  auto context = torch::tensor(
      {static_cast<float>(step) / std::max(steps, 1), kind == 0 ? 1.f : 0.f,
       kind == 1 ? 1.f : 0.f, kind == 2 ? 1.f : 0.f,
       static_cast<float>(std::log(std::max(stats.ways, 1.0))),
       static_cast<float>(std::log(std::max(stats.shots, 1.0)))},
      opts);
  // Magnitudes only: the update keeps the gradient's sign, so the learned
  // rule scales descent steps and cannot turn them around.
  auto x = torch::cat({g1, g2.abs(), param.reshape({-1, 1}).abs(), loss.reshape({1, 1}).expand({n, 1}),
                       stats.spread.reshape({1, 1}).expand({n, 1}),
                       context.reshape({1, -1}).expand({n, context.size(0)})},
                      1);
  auto o = mlp_->forward(x);
  auto lr = log_lr_[kind].exp();
  auto update = torch::exp(o.squeeze(1).clamp(-6, 6)) * lr * g.squeeze(1);
  return update.reshape(param.sizes());
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
    torch::load(*meta, path);
    (*meta)->eval();
    return absl::OkStatus();
  });
}

}  // namespace adaptd::engine
