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
    ScopedIntraOpThreads threads(features.is_cpu() ? options.intra_op_threads : 0);
    const bool keep_graph = options.graph != AdaptOptions::Graph::kNone;
    const bool second_order = options.graph == AdaptOptions::Graph::kSecondOrder;
    // Serving records no autograd history at all: its gradients are
    // closed-form (tested against autograd's), so nothing needs it.
    std::optional<torch::NoGradGuard> no_grad;
    if (!keep_graph) no_grad.emplace();
    const int64_t n = labels.size(0);
    const int64_t dim = features.size(1);
    auto counts = torch::zeros({num_classes}, features.options())
                      .index_add_(0, labels, torch::ones({n}, features.options()));
    auto sums = torch::zeros({num_classes, dim}, features.options())
                    .index_add_(0, labels, features);
    auto prototypes = sums / counts.unsqueeze(1);

    // The head's parameters: weight, bias and a log-scale (a temperature,
    // folded into both at the end), flattened into one tensor so that a step
    // updates all three with one op. FINETUNE and META adapt the same ones.
    // `Fit` is the head's support loss and what its gradient needs.
    const std::vector<int64_t> sizes = {num_classes * dim, num_classes, 1};
    // Views of the flat tensor: weight [C, D], bias [C], log-scale [1].
    auto unflatten = [&](const at::Tensor& flat) {
      auto p = flat.split_with_sizes(sizes);
      p[0] = p[0].view({num_classes, dim});
      return p;
    };
    struct Fit {
      at::Tensor scale, logits, log_probs, loss;
    };
    auto fit_of = [&](const at::Tensor& flat) {
      auto p = unflatten(flat);
      Fit f;
      f.scale = p[2].exp();
      f.logits = f.scale * HeadLogits(features, p[0], p[1]);
      f.log_probs = f.logits.log_softmax(1);
      f.loss = F::nll_loss(f.log_probs, labels);
      return f;
    };
    at::Tensor params = torch::cat({prototypes.reshape({-1}), -0.5 * prototypes.pow(2).sum(1),
                                    torch::zeros({1}, features.options())});
    if (keep_graph) params.requires_grad_(true);
    Fit fit = fit_of(params);
    const at::Tensor loss_before = fit.loss.detach();

    std::optional<MetaLearnerImpl::Plan> plan;
    if (method == Method::kMeta) {
      TaskStats stats;
      stats.ways = static_cast<double>(num_classes);
      stats.shots = static_cast<double>(n) / num_classes;
      stats.spread = (features - prototypes.index_select(0, labels)).pow(2).sum(1).mean();
      plan = (*meta)->Prepare(sizes, stats, features.options());
    }

    const int steps = method == Method::kPrototype ? 0 : options.steps;
    at::Tensor targets;
    if (steps > 0 && !keep_graph) {
      targets = torch::one_hot(labels, num_classes).to(features.scalar_type());
    }
    for (int step = 0; step < steps; ++step) {
      if (options.check) {
        absl::Status status = options.check();
        if (!status.ok()) return status;
      }
      at::Tensor grads;
      if (keep_graph) {
        // Meta-training unrolls the loop through autograd; create_graph
        // keeps the inner gradients' own derivatives (second order).
        grads = torch::autograd::grad({fit.loss}, {params}, /*grad_outputs=*/{},
                                      /*retain_graph=*/true, /*create_graph=*/second_order)[0];
      } else {
        // Serving: the same gradient in closed form, with no autograd
        // history. d(loss)/d(logits) = (softmax - onehot) / N, then the
        // chain rule through scale * kHeadScale * (features . weight^T + bias).
        auto d_logits = (fit.log_probs.exp() - targets) / static_cast<double>(n);
        auto d_head = d_logits * (kHeadScale * fit.scale);
        grads = torch::cat({d_head.t().mm(features).reshape({-1}), d_head.sum(0),
                            (d_logits * fit.logits).sum().reshape({1})});
      }
      if (method == Method::kMeta) {
        auto l = second_order ? fit.loss : fit.loss.detach();
        at::Tensor candidate = params - (*meta)->Update(*plan, params, grads, step, steps, l);
        // The learned step is kept only if it does not raise the support
        // loss: on tasks unlike its training tasks the meta-learner can
        // overshoot (Fashion-MNIST after glyphs did), and then the head stays
        // where it was. Chosen on the device, without a host sync, and
        // differentiable along the branch taken.
        Fit next = fit_of(candidate);
        auto keep = next.loss <= l;
        params = torch::where(keep, candidate, params);
        if (keep_graph) {
          fit = fit_of(params);  // Autograd needs the loss of these very tensors.
        } else {
          fit.scale = torch::where(keep, next.scale, fit.scale);
          fit.logits = torch::where(keep, next.logits, fit.logits);
          fit.log_probs = torch::where(keep, next.log_probs, fit.log_probs);
          fit.loss = torch::where(keep, next.loss, fit.loss);
        }
      } else {
        params = params - options.finetune_lr * grads;
        fit = fit_of(params);
      }
    }
    auto head = unflatten(params);
    at::Tensor weight = head[0] * fit.scale;
    at::Tensor bias = head[1] * fit.scale;

    HeadResult result;
    // One host sync for both losses.
    auto losses = torch::stack({loss_before, fit.loss.detach()}).to(torch::kCPU, torch::kDouble);
    result.loss_before = losses[0].item<double>();
    result.loss_after = losses[1].item<double>();
    result.weight = keep_graph ? weight : weight.detach();
    result.bias = keep_graph ? bias : bias.detach();
    result.steps = steps;
    return result;
  });
}

}  // namespace adaptd::engine
