// A small deterministic random generator for adapt-train. The standard
// library's distributions are implementation-defined, so data sets and
// episodes drawn with them could differ between toolchains; these do not.
// Not thread-safe: give each thread its own Rng (see MixSeed).
#ifndef ADAPTD_TRAIN_RANDOM_H_
#define ADAPTD_TRAIN_RANDOM_H_

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace adaptd::train {

// SplitMix64's finaliser: a good 64-bit mix.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Derives an independent seed from a seed and a path of indices, e.g.
// MixSeed(seed, {class_id, instance}), so that parallel work is reproducible
// whatever the thread count.
inline uint64_t MixSeed(uint64_t seed, std::initializer_list<uint64_t> path) {
  uint64_t h = Mix64(seed ^ 0x5851f42d4c957f2dULL);
  for (uint64_t p : path) h = Mix64(h ^ Mix64(p + 0x632be59bd9b4e019ULL));
  return h;
}

// FNV-1a of `s`, continuing from `h`: a stable 64-bit hash of names (for
// seeds) and of listings (for cache fingerprints).
inline uint64_t Fnv1a(absl::string_view s, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// xoshiro256** seeded through SplitMix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      s = Mix64(seed);
    }
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [0, n). REQUIRES: n > 0.
  uint64_t Below(uint64_t n) {
    // Lemire's multiply-shift with rejection: unbiased.
    __uint128_t m = static_cast<__uint128_t>(Next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = -n % n;
      while (low < threshold) {
        m = static_cast<__uint128_t>(Next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }
  // Standard normal (Box-Muller; one value per call keeps it stateless).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  // Fisher-Yates shuffle.
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[Below(i)]);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_RANDOM_H_
