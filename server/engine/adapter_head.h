// The head an adapter applies to backbone features. LibTorch types; include
// only where tensors are used.
#ifndef ADAPTD_SERVER_ENGINE_ADAPTER_HEAD_H_
#define ADAPTD_SERVER_ENGINE_ADAPTER_HEAD_H_

#include <ATen/core/Tensor.h>

namespace adaptd::engine {

// Cosine-style linear head over L2-normalised features:
//   logits = kHeadScale * (features . weight^T + bias)
inline constexpr double kHeadScale = 10.0;

// Immutable once made. Weight and bias live in one [C, D+1] tensor, one
// allocation, so that a stored adapter costs its floats plus little else
// (the accessors return views).
class AdapterHead {
 public:
  // Copies weight [C, D] and bias [C] (same device) into the packed tensor.
  // Defined in adapter_tensors.cc.
  AdapterHead(const at::Tensor& weight, const at::Tensor& bias);

  at::Tensor weight() const { return packed_.narrow(1, 0, packed_.size(1) - 1); }  // [C, D]
  at::Tensor bias() const { return packed_.select(1, packed_.size(1) - 1); }       // [C]
  int64_t classes() const { return packed_.size(0); }
  int64_t TensorBytes() const { return static_cast<int64_t>(packed_.nbytes()); }

 private:
  at::Tensor packed_;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ADAPTER_HEAD_H_
