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
    // The head's parameters: weight, bias and a log-scale (a temperature,
    // folded into both at the end). FINETUNE and META adapt the same ones.
    std::vector<at::Tensor> params = {weight, bias, torch::zeros({1}, features.options())};
    auto logits_of = [&](const std::vector<at::Tensor>& p) {
      auto scale = p[2].exp();
      return HeadLogits(features, p[0] * scale, p[1] * scale);
    };
    for (int step = 0; step < steps; ++step) {
      if (options.check) {
        absl::Status status = options.check();
        if (!status.ok()) return status;
      }
      for (auto& p : params) {
        if (!keep_graph) {
          p = p.detach().requires_grad_(true);
        } else if (!p.requires_grad()) {
          p.requires_grad_(true);
        }
      }
      auto loss = F::cross_entropy(logits_of(params), labels);
      if (step == 0) result.loss_before = loss.item<double>();
      auto grads = torch::autograd::grad({loss}, params, /*grad_outputs=*/{},
                                         /*retain_graph=*/keep_graph,
                                         /*create_graph=*/second_order);
      std::optional<torch::NoGradGuard> no_grad;
      if (!keep_graph) no_grad.emplace();
      auto l = second_order ? loss : loss.detach();
      if (method == Method::kMeta) {
        auto updates = (*meta)->Update(params, grads, step, steps, l, stats);
        std::vector<at::Tensor> candidate;
        for (size_t i = 0; i < params.size(); ++i) candidate.push_back(params[i] - updates[i]);
        // The learned step is kept only if it does not raise the support
        // loss: on tasks unlike its training tasks the meta-learner can
        // overshoot (Fashion-MNIST after glyphs did), and then the head stays
        // where it was. Chosen on the device, without a host sync, and
        // differentiable along the branch taken.
        auto keep = F::cross_entropy(logits_of(candidate), labels) <= l;
        for (size_t i = 0; i < params.size(); ++i) {
          params[i] = torch::where(keep, candidate[i], params[i]);
        }
      } else {
        for (size_t i = 0; i < params.size(); ++i) {
          params[i] = params[i] - options.finetune_lr * grads[i];
        }
      }
    }
    weight = params[0] * params[2].exp();
    bias = params[1] * params[2].exp();
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
