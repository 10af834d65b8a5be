// Turns one API input (raw tensor or encoded image) into the backbone's float
// input layout, validating everything a client can get wrong. Text inputs
// are for text backbones (text_input.h) and refused here. Pure C++: no
// LibTorch, so it is cheap to fuzz and test. Thread-safe (stateless).
#ifndef ADAPTD_SERVER_ENGINE_INPUT_INPUT_DECODER_H_
#define ADAPTD_SERVER_ENGINE_INPUT_INPUT_DECODER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/engine/base/types.h"

namespace adaptd::engine {

struct DecodeLimits {
  // Largest encoded image accepted, in bytes.
  int64_t max_image_bytes = 8 << 20;
  // Largest decoded image accepted, in pixels (width x height); refuses
  // decompression bombs before any pixel is decoded.
  int64_t max_image_pixels = 4096 * 4096;
  // Longest text input accepted, in UTF-8 bytes.
  int64_t max_text_bytes = 16384;
};

// Decodes `input` into `out`, which holds shape[0]*shape[1]*shape[2] floats
// in CHW order. `shape` is the backbone's [C,H,W] input shape and `pre` its
// preprocessing. Errors are INVALID_ARGUMENT and start with `field`, the
// input's path in the request, e.g. "support[3].input".
absl::Status DecodeInput(const InputRef& input,
                         const std::vector<int64_t>& shape,
                         const Preprocessing& pre, const DecodeLimits& limits,
                         absl::string_view field, float* out);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_INPUT_INPUT_DECODER_H_
