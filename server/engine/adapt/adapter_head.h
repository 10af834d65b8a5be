// The head an adapter applies to backbone features. LibTorch types; include
// only where tensors are used.
#ifndef ADAPTD_SERVER_ENGINE_ADAPT_ADAPTER_HEAD_H_
#define ADAPTD_SERVER_ENGINE_ADAPT_ADAPTER_HEAD_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace adaptd::engine {

// Cosine-style linear head over L2-normalised features:
//   logits = kHeadScale * (features . weight^T + bias)
inline constexpr double kHeadScale = 10.0;

// Immutable once made. Weight and bias are packed as one [C, D+1] block of
// floats. On the CPU the head owns those floats directly, in an exact-size
// FloatSlab block, with no tensor bookkeeping (a TensorImpl and a
// StorageImpl, about 350 bytes with their allocations, which 100,000
// adapters would otherwise each carry); the accessors wrap them in tensors
// on demand. On a device it holds a tensor.
class AdapterHead {
 public:
  // Copies weight [C, D] and bias [C] (same device) into the packed block.
  // Defined, like packed(), in adapter_tensors.cc.
  AdapterHead(const at::Tensor& weight, const at::Tensor& bias);
  ~AdapterHead();
  AdapterHead(const AdapterHead&) = delete;
  AdapterHead& operator=(const AdapterHead&) = delete;

  // [C, D+1]. On the CPU a view of this head's floats: valid while the head
  // lives, so callers keep their shared_ptr to it while they use the view.
  at::Tensor packed() const;
  at::Tensor weight() const { return packed().narrow(1, 0, cols_ - 1); }  // [C, D]
  at::Tensor bias() const { return packed().select(1, cols_ - 1); }       // [C]
  int64_t classes() const { return rows_; }
  int64_t TensorBytes() const { return rows_ * cols_ * static_cast<int64_t>(sizeof(float)); }

 private:
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  float* host_ = nullptr;  // CPU heads: rows_ * cols_ floats from FloatSlab.
  at::Tensor device_;      // Heads on any other device.
};

// The rows of a batch's features that one head applies to.
struct HeadRows {
  const AdapterHead* head;  // Not owned; alive for the call.
  int64_t offset;           // First row in the features.
  int64_t count;            // Rows from `offset` on.
};

// Class probabilities for several heads at once: one batched product over
// the heads gathered and padded to the most classes (the padding gets a
// bias of -inf, so probability 0). Returns [sum of counts, most classes] on
// the features' device, the heads' rows in the order given.
// REQUIRES: `heads` not empty; features [N, D] with D the heads' width.
at::Tensor ApplyHeads(const at::Tensor& features, const std::vector<HeadRows>& heads);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ADAPT_ADAPTER_HEAD_H_
