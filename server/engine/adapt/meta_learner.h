// The meta-learner: a compact set-to-set network that generates a task's
// head from its support set in one forward pass, then refines it with a few
// gradient steps at learned rates.
//
// From the class prototypes p_c (means of the normalised support features)
// and per-class statistics (log count, spread, |p_c|), one transformer block
// over the classes (FEAT-style; no positions, so it is equivariant to the
// order of the classes) gives class embeddings z_c and, by their mean, a task
// embedding t. From them it generates:
//   - a correction of each prototype, p'_c = p_c + delta(z_c);
//   - a feature metric M = diag(1 + gamma(t)) + P^T Q (a task-conditioned
//     FiLM scale and a learned low-rank term);
//   - a class bias and a log-temperature.
// The head is the nearest-centroid head in M's space,
//   weight_c = M^T M p'_c,  bias_c = -|M p'_c|^2 / 2 + bias(z_c),
// so it is a plain linear head over the features: adapters store it as any
// other. Every output layer (and P) starts at zero and the refinement rates
// at 0, so the untrained meta-learner is exactly PROTOTYPE; meta-training
// (adapt-train metatrain) learns the rest.
//
// Invariant to the order of the support examples (up to float rounding of
// the class means), equivariant to a permutation of the labels, for any
// number of ways and shots. Its size depends on the feature width, not on
// the ways.
//
// Not thread-safe while training; concurrent Generate() calls in eval mode
// under no-grad are safe.
#ifndef ADAPTD_SERVER_ENGINE_ADAPT_META_LEARNER_H_
#define ADAPTD_SERVER_ENGINE_ADAPT_META_LEARNER_H_

#include <cstdint>
#include <memory>
#include <string>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "absl/status/status.h"

namespace adaptd::engine {

struct MetaLearnerOptions {
  // Width of the backbone features it makes heads for. 0 makes an unsized
  // meta-learner with no parameters, only good as LoadMetaLearner's target.
  int64_t feature_dim = 0;
  // Width of the class and task embeddings.
  int64_t hidden = 128;
  // Attention heads over the classes; must divide `hidden`.
  int64_t heads = 4;
  // Rank of the learned metric's low-rank term (0: the FiLM scale alone).
  int64_t rank = 32;
  // Refinement steps after generation, each with its own learned rates;
  // adaptation takes min(requested steps, refine_steps) of them.
  int64_t refine_steps = 2;
};

// The generated head, before the temperature is folded in.
struct GeneratedHead {
  torch::Tensor weight;     // [C, D]
  torch::Tensor bias;       // [C]
  torch::Tensor log_scale;  // [1]: the head's logits are multiplied by exp of it.
};

class MetaLearnerImpl : public torch::nn::Module {
 public:
  // The version of the saved layout; LoadMetaLearner refuses others.
  static constexpr int64_t kFormatVersion = 2;

  explicit MetaLearnerImpl(const MetaLearnerOptions& options = {});

  // The head for a support set: `features` [N, D] (normalised), `labels`
  // [N] int64 in [0, C) with every class present, `prototypes` [C, D] their
  // class means. Differentiable in the meta-learner's parameters.
  // REQUIRES: sized() and D == options().feature_dim.
  GeneratedHead Generate(const torch::Tensor& features, const torch::Tensor& labels,
                         const torch::Tensor& prototypes);

  // The same head flattened as adaptation lays it out: weight [C * D], then
  // bias [C], then the log-scale. Without autograd on CPU float tensors
  // (serving, evaluation) it runs GenerateHeadOnHost over a copy of the
  // weights made on the first such call and again whenever a parameter has
  // changed since; otherwise it is Generate's.
  torch::Tensor GenerateFlat(const torch::Tensor& features, const torch::Tensor& labels,
                             const torch::Tensor& prototypes);

  // Refinement step `step`'s rates for the head's weight, bias and
  // log-scale: [3], each >= 0. REQUIRES: 0 <= step < refine_steps.
  torch::Tensor RefineRates(int64_t step) const;

  const MetaLearnerOptions& options() const { return options_; }
  bool sized() const { return options_.feature_dim > 0; }
  int64_t parameter_count() const;

 private:
  // One pre-norm transformer block over the class embeddings [C, hidden].
  torch::Tensor AttendClasses(const torch::Tensor& x);

  // The host copy of the weights, remade when a parameter has changed.
  struct HostCopy;
  std::shared_ptr<const HostCopy> CurrentHostCopy();

  MetaLearnerOptions options_;
  torch::nn::Linear embed_{nullptr}, embed_stats_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Linear qkv_{nullptr}, attend_out_{nullptr}, ffn1_{nullptr}, ffn2_{nullptr};
  // Output layers, zero at the start.
  torch::nn::Linear delta_{nullptr}, gamma_{nullptr}, class_bias_{nullptr}, log_scale_{nullptr};
  torch::Tensor metric_p_, metric_q_;  // [rank, D]: the metric's P (zero at start) and Q.
  torch::Tensor refine_rate_;          // [refine_steps, 3], clamped at 0 when used.
  torch::Tensor config_;               // Buffer: the format version and the options.
  std::shared_ptr<const HostCopy> host_copy_;  // Read and replaced atomically.
};
TORCH_MODULE(MetaLearner);

absl::Status SaveMetaLearner(MetaLearner& meta, const std::string& path);

// Replaces `*meta` with the meta-learner saved at `path`, sized as saved, in
// eval mode. INVALID_ARGUMENT, naming the file, for a file of another
// design or version (retrain with adapt-train metatrain) or with bad sizes.
absl::Status LoadMetaLearner(const std::string& path, MetaLearner* meta);

// OK when `meta` can make heads over `feature_dim`-wide features;
// FAILED_PRECONDITION naming both widths otherwise.
absl::Status CheckMetaLearnerFits(const MetaLearnerImpl& meta, int64_t feature_dim);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ADAPT_META_LEARNER_H_
