// The image half of preprocessing: decoding PNG and JPEG, alpha, colour
// conversion, resizing and cropping, with the semantics of torchvision's
// transforms on a PIL image (Resize with bilinear antialiasing, CenterCrop,
// ToTensor, Normalize), so that a model trained in Python sees the same
// input here. adaptd's decoder and adapt-train's loaders both use it. Pure
// C++, no LibTorch. Thread-safe (stateless).
//
//   ASSIGN_OR_RETURN(Pixels p, DecodePixels(bytes, limits));
//   p = ToColour(p, /*channels=*/3, background);
//   p = ResizeBilinear(p, 256 * p.width / p.height, 256);
//   p = CenterCrop(p, 224, 224);
//   ToNormalizedCHW(p, mean, std, out);
#ifndef ADAPTD_SERVER_ENGINE_INPUT_IMAGE_OPS_H_
#define ADAPTD_SERVER_ENGINE_INPUT_IMAGE_OPS_H_

#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/engine/base/types.h"

namespace adaptd::engine {

// 8-bit pixels, row-major, channels interleaved (HWC): 1 grey, 2 grey and
// alpha, 3 RGB, 4 RGBA.
struct Pixels {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> data;  // height * width * channels.

  uint8_t at(int y, int x, int c) const {
    return data[(static_cast<size_t>(y) * width + x) * channels + c];
  }
};

// Decodes a PNG (stb) or JPEG (libjpeg, as PIL) with the channels it has. INVALID_ARGUMENT (the
// message says why, without a field name) when it is not an image, over
// `max_bytes` or over `max_pixels` (checked from the header, before any
// pixel is decoded), or corrupt.
absl::StatusOr<Pixels> DecodePixels(absl::string_view bytes, int64_t max_bytes,
                                    int64_t max_pixels);

// `channels` (1: grey, 3: RGB) without alpha. Alpha is composited over the
// opaque `background` (RGB) as PIL's Image.alpha_composite does; grey is
// PIL's convert("L") (ITU-R 601-2 luma, L = (19595 R + 38470 G + 7471 B +
// 2^15) >> 16); grey to RGB repeats the channel.
Pixels ToColour(const Pixels& in, int channels, const std::array<uint8_t, 3>& background);

// Resized to width x height with PIL's bilinear filter, antialiased when it
// shrinks (the filter widens by the scale factor): two passes, horizontal
// then vertical, each rounded to 8 bits, with PIL's 22-bit fixed-point
// weights, so the result equals PIL's Image.resize(..., BILINEAR).
// REQUIRES: width, height >= 1.
Pixels ResizeBilinear(const Pixels& in, int width, int height);

// The size torchvision's Resize(shorter) gives: the shorter side becomes
// `shorter`, the longer one keeps the aspect ratio, rounded down.
std::array<int, 2> ShorterSideSize(int width, int height, int shorter);

// The centre width x height of `in`, as torchvision's CenterCrop takes it
// (offsets round((in - out) / 2)); where `in` is smaller, padded with 0
// first, equally on both sides.
Pixels CenterCrop(const Pixels& in, int width, int height);

// ToColour, then the resize `pre` asks for (stretch, or shorter side and
// centre crop) to pre.resize_height x pre.resize_width: an image as the
// model takes it, before scaling and normalisation.
Pixels PrepareImage(const Pixels& in, const Preprocessing& pre);

// The pixels in CHW order (the layout of a UINT8 input tensor), and back.
std::vector<uint8_t> ToCHW(const Pixels& in);
Pixels FromCHW(const uint8_t* chw, int channels, int height, int width);

// One 8-bit value scaled to [0,1], then (x - mean) / std, in float32 as
// torchvision computes it.
inline float NormalizePixel(uint8_t value, float mean, float std) {
  return (static_cast<float>(value) / 255.f - mean) / std;
}

// ToTensor then Normalize: CHW floats, value / 255, then (x - mean) / std
// per channel (mean 0 and std 1 where not given). `out` holds
// channels * height * width floats.
void ToNormalizedCHW(const Pixels& in, const std::vector<float>& mean,
                     const std::vector<float>& std, float* out);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_INPUT_IMAGE_OPS_H_
