#include "server/engine/adapt/adaptation.h"

#include <algorithm>
#include <optional>
#include <vector>

#include <torch/autograd.h>
#include <torch/nn/functional.h>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/engine/adapt/adapter_head.h"
#include "server/engine/runtime/torch_util.h"

namespace adaptd::engine {
namespace F = torch::nn::functional;

at::Tensor NormalizeFeatures(const at::Tensor& raw) {
  return F::normalize(raw, F::NormalizeFuncOptions().p(2).dim(1).eps(1e-8));
}

at::Tensor HeadLogits(const at::Tensor& features, const at::Tensor& weight,
                      const at::Tensor& bias) {
  return kHeadScale * torch::addmm(bias, features, weight.t());
}

namespace {

// The task head being adapted: weight [C, D], bias [C] and a log-scale (a
// temperature, folded into both at the end), flattened into one tensor so
// that a step updates all three with one op. FINETUNE and META adapt the
// same parameters.
class HeadProblem {
 public:
  // The head's support loss at some parameters, and what its gradient needs.
  struct Fit {
    at::Tensor scale, logits, log_probs, loss;
  };

  HeadProblem(const at::Tensor& features, const at::Tensor& labels, int64_t classes)
      : features_(features),
        labels_(labels),
        classes_(classes),
        dim_(features.size(1)),
        sizes_({classes * features.size(1), classes, 1}) {}

  const std::vector<int64_t>& sizes() const { return sizes_; }

  // Class means of the support features, [C, D].
  at::Tensor Prototypes() const {
    const int64_t n = labels_.size(0);
    auto counts = torch::zeros({classes_}, features_.options())
                      .index_add_(0, labels_, torch::ones({n}, features_.options()));
    auto sums =
        torch::zeros({classes_, dim_}, features_.options()).index_add_(0, labels_, features_);
    return sums / counts.unsqueeze(1);
  }

  // The prototype head, the start of every method: weight = the prototypes,
  // bias = -|p|^2 / 2, log-scale 0.
  at::Tensor Start(const at::Tensor& prototypes) const {
    return torch::cat({prototypes.reshape({-1}), -0.5 * prototypes.pow(2).sum(1),
                       torch::zeros({1}, features_.options())});
  }

  // Views of the flat tensor: weight [C, D], bias [C], log-scale [1].
  std::vector<at::Tensor> Unflatten(const at::Tensor& flat) const {
    auto p = flat.split_with_sizes(sizes_);
    p[0] = p[0].view({classes_, dim_});
    return p;
  }

  Fit FitOf(const at::Tensor& flat) const {
    auto p = Unflatten(flat);
    Fit f;
    f.scale = p[2].exp();
    f.logits = f.scale * HeadLogits(features_, p[0], p[1]);
    f.log_probs = f.logits.log_softmax(1);
    f.loss = F::nll_loss(f.log_probs, labels_);
    return f;
  }

  // The loss's gradient in closed form, with no autograd history (serving):
  // d(loss)/d(logits) = (softmax - onehot) / N, then the chain rule through
  // scale * kHeadScale * (features . weight^T + bias). Tested against
  // autograd's.
  at::Tensor ClosedFormGrad(const Fit& fit, const at::Tensor& one_hot) const {
    auto d_logits = (fit.log_probs.exp() - one_hot) / static_cast<double>(labels_.size(0));
    auto d_head = d_logits * (kHeadScale * fit.scale);
    return torch::cat({d_head.t().mm(features_).reshape({-1}), d_head.sum(0),
                       (d_logits * fit.logits).sum().reshape({1})});
  }

 private:
  const at::Tensor& features_;
  const at::Tensor& labels_;
  const int64_t classes_;
  const int64_t dim_;
  const std::vector<int64_t> sizes_;
};

// Refinement step `step`'s rate for every coordinate of the flat head: its
// weight's, bias's and log-scale's learned rate, each repeated over its part.
at::Tensor RefineRates(MetaLearner& meta, const HeadProblem& problem, int64_t step) {
  const at::Tensor rates = meta->RefineRates(step);
  std::vector<at::Tensor> parts;
  for (int64_t kind = 0; kind < 3; ++kind) {
    parts.push_back(rates[kind].expand({problem.sizes()[kind]}));
  }
  return torch::cat(parts);
}

// The adapted head's weight and bias with the scale folded in, and the
// support loss before and after (one host sync for both).
HeadResult Result(const HeadProblem& problem, const at::Tensor& params,
                  const HeadProblem::Fit& fit, const at::Tensor& loss_before, int steps,
                  bool keep_graph) {
  auto head = problem.Unflatten(params);
  at::Tensor weight = head[0] * fit.scale;
  at::Tensor bias = head[1] * fit.scale;
  HeadResult result;
  auto losses = torch::stack({loss_before, fit.loss.detach()}).to(torch::kCPU, torch::kDouble);
  result.loss_before = losses[0].item<double>();
  result.loss_after = losses[1].item<double>();
  result.weight = keep_graph ? weight : weight.detach();
  result.bias = keep_graph ? bias : bias.detach();
  result.steps = steps;
  return result;
}

}  // namespace

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
  if (method == Method::kMeta) RETURN_IF_ERROR(CheckMetaLearnerFits(**meta, features.size(1)));
  return GuardTorch("adaptation", [&]() -> absl::StatusOr<HeadResult> {
    ScopedIntraOpThreads threads(features.is_cpu() ? options.intra_op_threads : 0);
    const bool keep_graph = options.graph != AdaptOptions::Graph::kNone;
    const bool second_order = options.graph == AdaptOptions::Graph::kSecondOrder;
    // Serving records no autograd history at all: its gradients are
    // closed-form, so nothing needs it.
    std::optional<torch::NoGradGuard> no_grad;
    if (!keep_graph) no_grad.emplace();
    const HeadProblem problem(features, labels, num_classes);
    const at::Tensor prototypes = problem.Prototypes();
    at::Tensor params = problem.Start(prototypes);
    if (keep_graph) params.requires_grad_(true);
    HeadProblem::Fit fit = problem.FitOf(params);
    const at::Tensor loss_before = fit.loss.detach();
    int steps = method == Method::kPrototype ? 0 : options.steps;
    if (method == Method::kMeta) {
      params = (*meta)->GenerateFlat(features, labels, prototypes);  // As HeadProblem lays it out.
      fit = problem.FitOf(params);
      steps = static_cast<int>(std::min<int64_t>(steps, (*meta)->options().refine_steps));
    }
    at::Tensor one_hot;
    if (steps > 0 && !keep_graph) {
      one_hot = torch::one_hot(labels, num_classes).to(features.scalar_type());
    }
    for (int step = 0; step < steps; ++step) {
      if (options.check) {
        absl::Status status = options.check();
        if (!status.ok()) return status;
      }
      // Meta-training unrolls the loop through autograd; create_graph keeps
      // the inner gradients' own derivatives (second order).
      const at::Tensor grads =
          keep_graph ? torch::autograd::grad({fit.loss}, {params}, /*grad_outputs=*/{},
                                             /*retain_graph=*/true,
                                             /*create_graph=*/second_order)[0]
                     : problem.ClosedFormGrad(fit, one_hot);
      if (method == Method::kMeta) {
        params = params - RefineRates(*meta, problem, step) * grads;
      } else {
        params = params - options.finetune_lr * grads;
      }
      fit = problem.FitOf(params);
    }
    return Result(problem, params, fit, loss_before, steps, keep_graph);
  });
}

}  // namespace adaptd::engine
