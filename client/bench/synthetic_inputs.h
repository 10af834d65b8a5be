// Deterministic synthetic UINT8 images for any [C,H,W] input shape: each
// class is a fixed pattern of bright blobs; its instances are shifted, noisy
// copies, so PROTOTYPE and the other methods see a learnable task. The same
// seed gives the same bytes on every machine (no <random> distributions).
// Independent of the tests' helpers so that the shipped binary links no test
// code. Immutable after construction, so thread-safe to read.
//
//   InputPool pool({1, 28, 28}, /*classes=*/100, /*instances=*/10, /*seed=*/1);
//   const Tensor& t = pool.Get(/*cls=*/3, /*instance=*/0);
#ifndef ADAPTD_CLIENT_BENCH_SYNTHETIC_INPUTS_H_
#define ADAPTD_CLIENT_BENCH_SYNTHETIC_INPUTS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace adaptd::bench {

// One UINT8 example: shape [C,H,W] and C*H*W bytes, row-major.
struct Tensor {
  std::vector<int64_t> shape;
  std::string data;
};

// The image of class `cls`, instance `instance`, for `shape` = [C,H,W].
// REQUIRES: shape has 3 positive dimensions.
Tensor SyntheticTensor(const std::vector<int64_t>& shape, int cls, int instance,
                       uint64_t seed);

// splitmix64: a stateless, well-mixed hash used to draw per-request choices
// from a sequence number, so they need no shared generator.
uint64_t Mix64(uint64_t x);

// A uniform double in [0, 1) from a hash such as Mix64's: its top 53 bits.
double UnitInterval(uint64_t hash);

class InputPool {
 public:
  // REQUIRES: classes > 0, instances > 0, shape as for SyntheticTensor.
  InputPool(std::vector<int64_t> shape, int classes, int instances, uint64_t seed);

  int classes() const { return classes_; }
  int instances() const { return instances_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  // REQUIRES: 0 <= cls < classes(), 0 <= instance < instances().
  const Tensor& Get(int cls, int instance) const;
  // A tensor whose shape the backbone refuses (one column too many).
  const Tensor& malformed() const { return malformed_; }

 private:
  std::vector<int64_t> shape_;
  int classes_;
  int instances_;
  std::vector<Tensor> tensors_;  // classes_ x instances_.
  Tensor malformed_;
};

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_SYNTHETIC_INPUTS_H_
