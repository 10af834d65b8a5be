#include "server/engine/adaptation.h"

#include <optional>

#include <torch/autograd.h>
#include <torch/nn/functional.h>

#include "absl/strings/str_cat.h"
#include "server/engine/adapter_head.h"
#include "server/engine/torch_util.h"

namespace adaptd::engine {
namespace F = torch::nn::functional;

at::Tensor NormalizeFeatures(const at::Tensor& raw) {
  return F::normalize(raw, F::NormalizeFuncOptions().p(2).dim(1).eps(1e-8));
}

at::Tensor HeadLogits(const at::Tensor& features, const at::Tensor& weight,
                      const at::Tensor& bias) {
  return kHeadScale * torch::addmm(bias, features, weight.t());
}

absl::StatusOr<HeadResult> AdaptHead(Method method, const at::Tensor& features,
                                     const at::Tensor& labels, int64_t num_classes,
                                     MetaLearner* meta, const AdaptOptions& options) {
  if (method == Method::kMeta && meta == nullptr) {
    return absl::FailedPreconditionError("META needs a meta-learner");
  }
  if (method != Method::kMeta && method != Method::kFinetune &&
      method != Method::kPrototype) {
    return absl::InvalidArgumentError(
        absl::StrCat("method: unsupported method ", static_cast<int>(method)));
  }
  if (options.steps < 0) return absl::InvalidArgumentError("steps: must not be negative");
  return GuardTorch("adaptation", [&]() -> absl::StatusOr<HeadResult> {
    const int64_t dim = features.size(1);
    auto counts = torch::zeros({num_classes}, features.options())
                      .index_add_(0, labels, torch::ones({labels.size(0)}, features.options()));
    auto sums = torch::zeros({num_classes, dim}, features.options())
                    .index_add_(0, labels, features);
    auto prototypes = sums / counts.unsqueeze(1);
    at::Tensor weight = prototypes;
    at::Tensor bias = -0.5 * prototypes.pow(2).sum(1);

    HeadResult result;
    const int steps = method == Method::kPrototype ? 0 : options.steps;
    const bool keep_graph = options.graph != AdaptOptions::Graph::kNone;
    const bool second_order = options.graph == AdaptOptions::Graph::kSecondOrder;
    TaskStats stats;
    if (method == Method::kMeta) {
      stats.ways = static_cast<double>(num_classes);
      stats.shots = static_cast<double>(labels.size(0)) / num_classes;
      stats.spread = (features - prototypes.index_select(0, labels)).pow(2).sum(1).mean();
      if (!second_order) stats.spread = stats.spread.detach();
    }
    for (int step = 0; step < steps; ++step) {
      if (options.check) {
        absl::Status status = options.check();
        if (!status.ok()) return status;
      }
      if (!keep_graph) {
        weight = weight.detach().requires_grad_(true);
        bias = bias.detach().requires_grad_(true);
      } else if (!weight.requires_grad()) {
        weight.requires_grad_(true);
        bias.requires_grad_(true);
      }
      auto loss = F::cross_entropy(HeadLogits(features, weight, bias), labels);
      if (step == 0) result.loss_before = loss.item<double>();
      auto grads = torch::autograd::grad({loss}, {weight, bias}, /*grad_outputs=*/{},
                                         /*retain_graph=*/keep_graph,
                                         /*create_graph=*/second_order);
      std::optional<torch::NoGradGuard> no_grad;
      if (!keep_graph) no_grad.emplace();
      if (method == Method::kFinetune) {
        weight = weight - options.finetune_lr * grads[0];
        bias = bias - options.finetune_lr * grads[1];
      } else {
        auto l = second_order ? loss : loss.detach();
        weight = weight - (*meta)->Update(weight, grads[0], 0, step, steps, l, stats);
        bias = bias - (*meta)->Update(bias, grads[1], 1, step, steps, l, stats);
      }
    }
    {
      torch::NoGradGuard no_grad;
      auto loss = F::cross_entropy(HeadLogits(features, weight, bias), labels).item<double>();
      result.loss_after = loss;
      if (steps == 0) result.loss_before = loss;
    }
    result.weight = keep_graph ? weight : weight.detach();
    result.bias = keep_graph ? bias : bias.detach();
    result.steps = steps;
    return result;
  });
}

}  // namespace adaptd::engine
