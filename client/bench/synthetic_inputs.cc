#include "client/bench/synthetic_inputs.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace adaptd::bench {
namespace {

// A uniform double in [0, 1) from the next value of a splitmix64 stream.
double Uniform(uint64_t& state) {
  state += 0x9e3779b97f4a7c15ULL;
  return UnitInterval(Mix64(state));
}

}  // namespace

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double UnitInterval(uint64_t hash) { return static_cast<double>(hash >> 11) * 0x1.0p-53; }

Tensor SyntheticTensor(const std::vector<int64_t>& shape, int cls, int instance,
                       uint64_t seed) {
  const int64_t channels = shape[0], height = shape[1], width = shape[2];
  const int64_t side = std::min(height, width);
  // The class pattern: four discs at class-specific places, per channel.
  uint64_t pattern_rng = Mix64(seed * 1000003 + static_cast<uint64_t>(cls));
  std::vector<float> pattern(channels * height * width, 0.f);
  for (int64_t c = 0; c < channels; ++c) {
    for (int b = 0; b < 4; ++b) {
      const double cy = height * (0.15 + 0.7 * Uniform(pattern_rng));
      const double cx = width * (0.15 + 0.7 * Uniform(pattern_rng));
      const double r = side * (0.07 + 0.07 * Uniform(pattern_rng));
      for (int64_t y = 0; y < height; ++y) {
        for (int64_t x = 0; x < width; ++x) {
          if ((y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r) {
            pattern[(c * height + y) * width + x] = 1.f;
          }
        }
      }
    }
  }
  // The instance: a shift of up to one pixel (scaled with the image) and noise.
  uint64_t rng = Mix64(seed * 7919 + static_cast<uint64_t>(cls) * 104729 +
                       static_cast<uint64_t>(instance) + 1);
  const int64_t step = std::max<int64_t>(1, side / 28);
  const int64_t dy = (static_cast<int64_t>(Uniform(rng) * 3) - 1) * step;
  const int64_t dx = (static_cast<int64_t>(Uniform(rng) * 3) - 1) * step;
  Tensor t;
  t.shape = shape;
  t.data.resize(channels * height * width);
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        const int64_t sy = y - dy, sx = x - dx;
        const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
        const float base = inside ? pattern[(c * height + sy) * width + sx] : 0.f;
        const float noise = static_cast<float>((Uniform(rng) - 0.5) * 0.4);
        const float v = std::clamp(base * 0.8f + 0.1f + noise, 0.f, 1.f);
        t.data[(c * height + y) * width + x] = static_cast<char>(
            static_cast<uint8_t>(std::lround(v * 255.f)));
      }
    }
  }
  return t;
}

InputPool::InputPool(std::vector<int64_t> shape, int classes, int instances, uint64_t seed)
    : shape_(std::move(shape)), classes_(classes), instances_(instances) {
  tensors_.reserve(static_cast<size_t>(classes) * instances);
  for (int c = 0; c < classes; ++c) {
    for (int i = 0; i < instances; ++i) tensors_.push_back(SyntheticTensor(shape_, c, i, seed));
  }
  malformed_ = tensors_.front();
  malformed_.shape.back() += 1;
  malformed_.data.append(static_cast<size_t>(shape_[0] * shape_[1]), '\0');
}

const Tensor& InputPool::Get(int cls, int instance) const {
  return tensors_[static_cast<size_t>(cls) * instances_ + instance];
}

}  // namespace adaptd::bench
