// The adaptation methods, shared by adaptd and adapt-train so that what is
// evaluated is exactly what is served. All start from class prototypes.
#ifndef ADAPTD_SERVER_ENGINE_ADAPT_ADAPTATION_H_
#define ADAPTD_SERVER_ENGINE_ADAPT_ADAPTATION_H_

#include <functional>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "server/engine/adapt/meta_learner.h"
#include "server/engine/base/types.h"

namespace adaptd::engine {

inline constexpr int kDefaultSteps = 5;
inline constexpr double kDefaultInnerLr = 0.01;

struct AdaptOptions {
  // Gradient steps for FINETUNE; META's refinement steps after its
  // generated head, at most the meta-learner's refine_steps (it has learned
  // rates for those only); PROTOTYPE takes none.
  int steps = kDefaultSteps;
  // FINETUNE's learning rate.
  double finetune_lr = kDefaultInnerLr;
  // How much autograd history adaptation keeps, for meta-training:
  //  kNone: serving. No autograd history; the steps take closed-form
  //    gradients.
  //  kFirstOrder: the head keeps its history through the meta-learner's
  //    generator and refinement, but the refinement's gradients are taken
  //    as constants.
  //  kSecondOrder: also differentiates through the inner gradients
  //    (torch::autograd::grad with create_graph).
  enum class Graph { kNone, kFirstOrder, kSecondOrder };
  Graph graph = Graph::kNone;
  // Intra-op threads on the CPU for the calling thread while it adapts; 0
  // keeps its own. The tensors here are too small to split: one thread
  // measured 30-50% faster than two (docs/experiments/adapt-one-intra-op-thread.md).
  int intra_op_threads = 1;
  // Called before each step; a non-OK status (deadline, cancellation) stops
  // adaptation and is returned. May be empty.
  std::function<absl::Status()> check;
};

struct HeadResult {
  at::Tensor weight;  // [C, D]
  at::Tensor bias;    // [C]
  double loss_before = 0;
  double loss_after = 0;
  int steps = 0;
};

// L2-normalises raw backbone features along dim 1.
at::Tensor NormalizeFeatures(const at::Tensor& raw);

// Logits of a head over normalised features.
at::Tensor HeadLogits(const at::Tensor& features, const at::Tensor& weight,
                      const at::Tensor& bias);

// Adapts a head to `features` [N,D] (normalised) with `labels` [N] (int64 in
// [0, num_classes)), every class present. `meta` is required for kMeta, made
// for D-wide features (FAILED_PRECONDITION otherwise). loss_before is the
// prototype head's support loss for every method.
// REQUIRES: features and labels on the same device.
absl::StatusOr<HeadResult> AdaptHead(Method method, const at::Tensor& features,
                                     const at::Tensor& labels, int64_t num_classes,
                                     MetaLearner* meta, const AdaptOptions& options);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ADAPT_ADAPTATION_H_
