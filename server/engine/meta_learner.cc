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

std::vector<torch::Tensor> MetaLearnerImpl::Update(const std::vector<torch::Tensor>& params,
                                                   const std::vector<torch::Tensor>& grads,
                                                   int step, int steps, const torch::Tensor& loss,
                                                   const TaskStats& stats) {
  constexpr double kP = 10.0;  // Gradient preprocessing of Andrychowicz et al.
  // Every coordinate of every tensor in one column, so that the network runs
  // once per step: the update is per coordinate, and a few large kernels
  // beat three rounds of small ones (on a GPU, launches dominate).
  std::vector<torch::Tensor> flat_grads, flat_params, kinds;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < params.size(); ++i) {
    flat_grads.push_back(grads[i].reshape({-1}));
    flat_params.push_back(params[i].reshape({-1}).abs());
    sizes.push_back(params[i].numel());
    kinds.push_back(torch::full({sizes.back()}, static_cast<int64_t>(i),
                                grads[i].options().dtype(torch::kLong)));
  }
  auto g = torch::cat(flat_grads);
  auto kind = torch::cat(kinds);
  // log|g| / P, and |g| e^P, each clipped where the other takes over: the
  // preprocessing's two regimes with |g| = e^-P as the border. Magnitudes
  // only: the update keeps the gradient's sign, so the learned rule scales
  // descent steps and cannot turn them around.
  auto magnitude = g.abs();
  auto g1 = torch::log(magnitude.clamp_min(std::exp(-kP))) / kP;
  auto g2 = (magnitude * std::exp(kP)).clamp_max(1.0);
  // The inputs that depend only on which tensor a coordinate belongs to:
  // loss, spread, progress, the tensor's one-hot kind, log ways, log shots;
  // one row per kind, gathered per coordinate.
  const auto options = g.options();
  auto per_task = torch::stack({loss.reshape({}).to(options.dtype()),
                                stats.spread.reshape({}).to(options.dtype())})
                      .expand({3, 2});
  const double progress = static_cast<double>(step) / std::max(steps, 1);
  // Made on the device (no host-to-device copy, which would sync a GPU).
  auto column = [&](double value) { return torch::full({3, 1}, value, options); };
  auto table = torch::cat({per_task, column(progress), torch::eye(3, options),
                           column(std::log(std::max(stats.ways, 1.0))),
                           column(std::log(std::max(stats.shots, 1.0)))},
                          1);  // [3, 8]
  auto x = torch::cat({torch::stack({g1, g2, torch::cat(flat_params)}, 1),
                       table.index_select(0, kind)},
                      1);
  auto o = mlp_->forward(x);
  auto lr = log_lr_.exp().index_select(0, kind);
  auto update = torch::exp(o.squeeze(1).clamp(-6, 6)) * lr * g;
  std::vector<torch::Tensor> updates;
  int64_t offset = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    updates.push_back(update.narrow(0, offset, sizes[i]).reshape(params[i].sizes()));
    offset += sizes[i];
  }
  return updates;
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
