// Tiny backbones written as model folders, for tests.
#ifndef ADAPTD_TESTS_TEST_UTIL_TINY_MODELS_H_
#define ADAPTD_TESTS_TEST_UTIL_TINY_MODELS_H_

#include <cstdint>
#include <string>

namespace adaptd::testing {

// Writes a model folder `dir` with a randomly initialised Conv4 backbone
// named `name` (input [1,28,28], mean 0.5, std 0.5) and, if `with_meta`, an
// untrained meta-learner (the SGD starting point). Deterministic for a seed.
void WriteTinyConv4Model(const std::string& dir, const std::string& name, bool with_meta,
                         uint64_t seed = 7);

// Writes a TorchScript backbone folder: a fixed random projection followed
// by ReLU, compiled with torch::jit (no Python), feature_dim 32.
void WriteTinyTorchScriptModel(const std::string& dir, const std::string& name);

// Saves a small random RGB TorchScript net at `path`: a stride-2 conv3x3 of
// 8 filters, ReLU, global mean and a projection to 16 features; any
// [B,3,H,W] input with H, W >= 3. What a user's import starts from.
void SaveTinyRgbTorchScript(const std::string& path);

}  // namespace adaptd::testing

#endif  // ADAPTD_TESTS_TEST_UTIL_TINY_MODELS_H_
