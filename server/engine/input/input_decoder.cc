#include "server/engine/input/input_decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/engine/input/image_ops.h"


namespace adaptd::engine {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 24;

absl::Status Invalid(absl::string_view field, absl::string_view suffix,
                     absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, suffix, ": ", message));
}

// Scale-to-[0,1] and mean/std on CHW uint8 pixels, as ToNormalizedCHW.
void Normalize(const uint8_t* pixels, int64_t channels, int64_t plane,
               const Preprocessing& pre, float* out) {
  for (int64_t c = 0; c < channels; ++c) {
    const float mean = c < static_cast<int64_t>(pre.mean.size()) ? pre.mean[c] : 0.f;
    const float std = c < static_cast<int64_t>(pre.std.size()) ? pre.std[c] : 1.f;
    for (int64_t i = 0; i < plane; ++i) {
      out[c * plane + i] = NormalizePixel(pixels[c * plane + i], mean, std);
    }
  }
}

absl::Status DecodeTensor(const InputRef& input,
                          const std::vector<int64_t>& shape,
                          const Preprocessing& pre, absl::string_view field,
                          float* out) {
  if (input.dtype != DType::kFloat32 && input.dtype != DType::kUint8) {
    return Invalid(field, ".tensor.dtype",
                   absl::StrCat("unsupported dtype ", static_cast<int>(input.dtype),
                                "; use FLOAT32 or UINT8"));
  }
  int64_t numel = 1;
  for (size_t i = 0; i < input.shape.size(); ++i) {
    const int64_t d = input.shape[i];
    if (d <= 0 || d > kMaxDim) {
      return Invalid(field, ".tensor.shape",
                     absl::StrCat("dimension ", i, " is ", d,
                                  "; each must be in [1, ", kMaxDim, "]"));
    }
    if (numel > std::numeric_limits<int64_t>::max() / 8 / d) {
      return Invalid(field, ".tensor.shape",
                     absl::StrCat(ShapeString(input.shape), " overflows"));
    }
    numel *= d;
  }
  if (input.shape != shape) {
    return Invalid(field, ".tensor",
                   absl::StrCat("expected shape ", ShapeString(shape), ", got ",
                                ShapeString(input.shape)));
  }
  const int64_t elem = input.dtype == DType::kFloat32 ? 4 : 1;
  if (static_cast<int64_t>(input.data.size()) != numel * elem) {
    return Invalid(field, ".tensor.data",
                   absl::StrCat("expected ", numel * elem, " bytes for shape ",
                                ShapeString(shape),
                                input.dtype == DType::kFloat32 ? " FLOAT32" : " UINT8",
                                ", got ", input.data.size()));
  }
  if (input.dtype == DType::kUint8) {
    Normalize(reinterpret_cast<const uint8_t*>(input.data.data()), shape[0],
              shape[1] * shape[2], pre, out);
    return absl::OkStatus();
  }
  static_assert(sizeof(float) == 4, "float must be IEEE-754 binary32");
  std::memcpy(out, input.data.data(), numel * 4);  // Little-endian host.
  for (int64_t i = 0; i < numel; ++i) {
    if (!std::isfinite(out[i])) {
      return Invalid(field, ".tensor.data",
                     absl::StrCat("element ", i, " is ",
                                  std::isnan(out[i]) ? "NaN" : "Inf",
                                  "; inputs must be finite"));
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeImage(const InputRef& input, const std::vector<int64_t>& shape,
                         const Preprocessing& pre, const DecodeLimits& limits,
                         absl::string_view field, float* out) {
  const int channels = static_cast<int>(shape[0]);
  if (channels != 1 && channels != 3) {
    return absl::FailedPreconditionError(
        absl::StrCat("backbone input has ", channels, " channels; images need 1 or 3"));
  }
  absl::StatusOr<Pixels> decoded =
      DecodePixels(input.data, limits.max_image_bytes, limits.max_image_pixels);
  if (!decoded.ok()) return Invalid(field, ".image", decoded.status().message());
  Preprocessing fit = pre;
  fit.channels = channels;
  fit.resize_height = static_cast<int>(shape[1]);
  fit.resize_width = static_cast<int>(shape[2]);
  const Pixels p = PrepareImage(*decoded, fit);
  ToNormalizedCHW(p, pre.mean, pre.std, out);
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeInput(const InputRef& input, const std::vector<int64_t>& shape,
                         const Preprocessing& pre, const DecodeLimits& limits,
                         absl::string_view field, float* out) {
  if (shape.size() != 3) {
    return absl::FailedPreconditionError(
        absl::StrCat("backbone input shape ", ShapeString(shape), " is not [C,H,W]"));
  }
  switch (input.kind) {
    case InputRef::Kind::kImage:
      return DecodeImage(input, shape, pre, limits, field, out);
    case InputRef::Kind::kTensor:
      return DecodeTensor(input, shape, pre, field, out);
    case InputRef::Kind::kText:
      return Invalid(field, ".text", "this backbone takes images; set tensor or image");
    case InputRef::Kind::kMissing:
      break;
  }
  return Invalid(field, "", "is empty; set tensor or image");
}

}  // namespace adaptd::engine
