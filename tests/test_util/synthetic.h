// Synthetic few-shot data and tiny models for tests: each class is a fixed
// random blob pattern; its examples are shifted, noisy copies. Deterministic
// for a seed. No LibTorch in this header.
#ifndef ADAPTD_TESTS_TEST_UTIL_SYNTHETIC_H_
#define ADAPTD_TESTS_TEST_UTIL_SYNTHETIC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "server/engine/base/types.h"

namespace adaptd::testing {

inline constexpr int kSide = 28;

// A 28x28 grayscale uint8 image of class `cls` (instance `instance`).
std::vector<uint8_t> SyntheticImage(int cls, int instance, uint64_t seed = 1);

// PNG encoding of a gray image.
std::string EncodePng(const std::vector<uint8_t>& pixels, int width, int height,
                      int channels = 1);

// A fresh, empty temporary directory, removed with its contents when the
// process exits normally (ADAPTD_KEEP_TEST_DIRS=1 keeps it).
std::string MakeTempDir(const std::string& prefix);

// Float model input for SyntheticImage (after mean 0.5 / std 0.5).
std::vector<float> SyntheticInput(int cls, int instance, uint64_t seed = 1);

}  // namespace adaptd::testing

#endif  // ADAPTD_TESTS_TEST_UTIL_SYNTHETIC_H_
