// Deterministic synthetic inputs: UINT8 images for any [C,H,W] input shape,
// where each class is a fixed pattern of bright blobs and its instances are
// shifted, noisy copies; and English texts for text backbones, where each
// class has its own topic words and its instances mix them with common
// words. So PROTOTYPE and the other methods see a learnable task. The same
// seed gives the same bytes on every machine (no <random> distributions).
// Independent of the tests' helpers so that the shipped binary links no test
// code. Immutable after construction, so thread-safe to read.
//
//   InputPool pool({1, 28, 28}, /*classes=*/100, /*instances=*/10, /*seed=*/1);
//   const Input& t = pool.Get(/*cls=*/3, /*instance=*/0);
//   InputPool texts = InputPool::Texts(/*classes=*/100, /*instances=*/10, /*words=*/12, 1);
#ifndef ADAPTD_CLIENT_BENCH_SYNTHETIC_INPUTS_H_
#define ADAPTD_CLIENT_BENCH_SYNTHETIC_INPUTS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace adaptd::bench {

// One example: a UINT8 image tensor, or a text for a text backbone.
struct Input {
  enum class Kind { kTensor, kText };
  Kind kind = Kind::kTensor;
  std::vector<int64_t> shape;  // kTensor: [C,H,W]. kText: empty.
  std::string data;            // kTensor: C*H*W bytes, row-major. kText: UTF-8.
};

// The image of class `cls`, instance `instance`, for `shape` = [C,H,W].
// REQUIRES: shape has 3 positive dimensions.
Input SyntheticTensor(const std::vector<int64_t>& shape, int cls, int instance,
                      uint64_t seed);

// The text of class `cls`, instance `instance`: `words` lower-case English
// words (half of them the class's topic words), then a full stop.
// REQUIRES: words >= 1.
Input SyntheticText(int cls, int instance, int words, uint64_t seed);

// splitmix64: a stateless, well-mixed hash used to draw per-request choices
// from a sequence number, so they need no shared generator.
uint64_t Mix64(uint64_t x);

// A uniform double in [0, 1) from a hash such as Mix64's: its top 53 bits.
double UnitInterval(uint64_t hash);

class InputPool {
 public:
  // Images. REQUIRES: classes > 0, instances > 0, shape as for SyntheticTensor.
  InputPool(std::vector<int64_t> shape, int classes, int instances, uint64_t seed);
  // Texts of `words` words. REQUIRES: classes > 0, instances > 0, words > 0.
  static InputPool Texts(int classes, int instances, int words, uint64_t seed);

  int classes() const { return classes_; }
  int instances() const { return instances_; }
  const std::vector<int64_t>& shape() const { return shape_; }  // Empty for texts.
  // REQUIRES: 0 <= cls < classes(), 0 <= instance < instances().
  const Input& Get(int cls, int instance) const;
  // An input the backbone refuses: an image with one column too many, or an
  // empty text.
  const Input& malformed() const { return malformed_; }

 private:
  InputPool(int classes, int instances) : classes_(classes), instances_(instances) {}

  std::vector<int64_t> shape_;
  int classes_;
  int instances_;
  std::vector<Input> inputs_;  // classes_ x instances_.
  Input malformed_;
};

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_SYNTHETIC_INPUTS_H_
