// The head an adapter applies to backbone features. LibTorch types; include
// only where tensors are used.
#ifndef ADAPTD_SERVER_ENGINE_ADAPTER_HEAD_H_
#define ADAPTD_SERVER_ENGINE_ADAPTER_HEAD_H_

#include <ATen/core/Tensor.h>

namespace adaptd::engine {

// Cosine-style linear head over L2-normalised features:
//   logits = kHeadScale * (features . weight^T + bias)
inline constexpr double kHeadScale = 10.0;

struct AdapterHead {
  at::Tensor weight;  // [C, D], on the backbone's device.
  at::Tensor bias;    // [C]
  int64_t TensorBytes() const {
    return static_cast<int64_t>(weight.nbytes() + bias.nbytes());
  }
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ADAPTER_HEAD_H_
