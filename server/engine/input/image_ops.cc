#include "server/engine/input/image_ops.h"

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"

extern "C" {
#include <jpeglib.h>
#include <stb/stb_image.h>
}

namespace adaptd::engine {
namespace {

struct StbFree {
  void operator()(unsigned char* p) const { stbi_image_free(p); }
};

// libjpeg's errors jump back here instead of exiting the process.
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void OnJpegError(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, error->message);
  std::longjmp(error->jump, 1);
}

void IgnoreJpegMessage(j_common_ptr, int) {}

// Decodes a JPEG with libjpeg at its defaults (accurate integer IDCT, fancy
// upsampling): what PIL does, so JPEG inputs match torchvision's exactly.
// Only plain data crosses the setjmp; no destructor is skipped by longjmp.
absl::Status DecodeJpegInto(const unsigned char* data, size_t size, int64_t max_pixels,
                            Pixels* out) {
  jpeg_decompress_struct cinfo;
  JpegError error;
  cinfo.err = jpeg_std_error(&error.mgr);
  error.mgr.error_exit = OnJpegError;
  error.mgr.emit_message = IgnoreJpegMessage;
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return absl::InvalidArgumentError(absl::StrCat("corrupt image (", error.message, ")"));
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  const int64_t pixels = static_cast<int64_t>(cinfo.image_width) * cinfo.image_height;
  const bool grey = cinfo.jpeg_color_space == JCS_GRAYSCALE;
  const bool colour = cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB;
  absl::Status refused;
  if (pixels <= 0 || pixels > max_pixels) {
    refused = absl::InvalidArgumentError(absl::StrCat(cinfo.image_width, "x", cinfo.image_height,
                                                      " pixels exceeds the decode limit of ",
                                                      max_pixels, " pixels"));
  } else if (!grey && !colour) {
    refused = absl::InvalidArgumentError("a CMYK or YCCK JPEG; send RGB or grey");
  }
  if (!refused.ok()) {
    jpeg_destroy_decompress(&cinfo);
    return refused;
  }
  cinfo.out_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  out->width = static_cast<int>(cinfo.output_width);
  out->height = static_cast<int>(cinfo.output_height);
  out->channels = cinfo.output_components;
  out->data.resize(static_cast<size_t>(out->width) * out->height * out->channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row =
        &out->data[static_cast<size_t>(cinfo.output_scanline) * out->width * out->channels];
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return absl::OkStatus();
}

bool IsJpeg(absl::string_view bytes) {
  return bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF &&
         static_cast<uint8_t>(bytes[1]) == 0xD8 && static_cast<uint8_t>(bytes[2]) == 0xFF;
}

// PIL's fixed-point resampling: weights scaled by 2^22, sums rounded.
constexpr int kPrecisionBits = 32 - 8 - 2;

uint8_t Clip8(int64_t sum) {
  if (sum >= (int64_t{1} << kPrecisionBits << 8)) return 255;
  if (sum <= 0) return 0;
  return static_cast<uint8_t>(sum >> kPrecisionBits);
}

// For each output pixel along one axis: the first input pixel it reads, how
// many, and their fixed-point weights (PIL's precompute_coeffs and
// normalize_coeffs_8bpc, bilinear filter).
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;  // out_size * ksize.
};

Coefficients Precompute(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double d = std::fabs((x + xmin - center + 0.5) * ss);
      k[x] = d < 1.0 ? 1.0 - d : 0.0;
      ww += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      c.weights[static_cast<size_t>(xx) * c.ksize + x] = static_cast<int32_t>(
          w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

// One pass along x (horizontal) or y, as PIL's ImagingResampleHorizontal /
// Vertical_8bpc.
Pixels ResamplePass(const Pixels& in, int out_size, bool horizontal) {
  const Coefficients c = Precompute(horizontal ? in.width : in.height, out_size);
  Pixels out;
  out.width = horizontal ? out_size : in.width;
  out.height = horizontal ? in.height : out_size;
  out.channels = in.channels;
  out.data.resize(static_cast<size_t>(out.width) * out.height * out.channels);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      const int i = horizontal ? x : y;
      const int32_t* k = &c.weights[static_cast<size_t>(i) * c.ksize];
      for (int ch = 0; ch < out.channels; ++ch) {
        int64_t sum = int64_t{1} << (kPrecisionBits - 1);
        for (int j = 0; j < c.count[i]; ++j) {
          const int from = c.first[i] + j;
          sum += static_cast<int64_t>(horizontal ? in.at(y, from, ch) : in.at(from, x, ch)) * k[j];
        }
        out.data[(static_cast<size_t>(y) * out.width + x) * out.channels + ch] = Clip8(sum);
      }
    }
  }
  return out;
}

// PIL's alpha_composite of an RGBA pixel over an opaque one: 7 extra bits
// of precision, divisions by 255 rounded.
uint8_t Over(uint32_t src, uint32_t dst, uint32_t alpha) {
  constexpr uint32_t kBits = 7;
  const uint32_t blend = 255 * (255 - alpha);
  const uint32_t outa255 = alpha * 255 + blend;
  const uint32_t coef1 = alpha * 255 * 255 * (1u << kBits) / outa255;
  const uint32_t coef2 = 255 * (1u << kBits) - coef1;
  const uint32_t tmp = src * coef1 + dst * coef2 + (0x80u << kBits);
  return static_cast<uint8_t>((((tmp >> 8) + tmp) >> 8) >> kBits);
}

uint8_t Luma(uint32_t r, uint32_t g, uint32_t b) {
  return static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

// Python's round() of half-integers: to even.
int RoundHalfEven(int twice) {
  const int half = twice / 2;
  return twice % 2 == 0 || half % 2 == 0 ? half : half + 1;
}

}  // namespace

absl::StatusOr<Pixels> DecodePixels(absl::string_view bytes, int64_t max_bytes,
                                    int64_t max_pixels) {
  if (bytes.empty()) return absl::InvalidArgumentError("is empty");
  if (static_cast<int64_t>(bytes.size()) > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(bytes.size(), " bytes exceeds the decode limit of ", max_bytes, " bytes"));
  }
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("too large");
  }
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  if (IsJpeg(bytes)) {
    Pixels p;
    RETURN_IF_ERROR(DecodeJpegInto(data, bytes.size(), max_pixels, &p));
    return p;
  }
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a decodable PNG or JPEG (", stbi_failure_reason(), ")"));
  }
  if (w <= 0 || h <= 0 || static_cast<int64_t>(w) * static_cast<int64_t>(h) > max_pixels) {
    return absl::InvalidArgumentError(
        absl::StrCat(w, "x", h, " pixels exceeds the decode limit of ", max_pixels, " pixels"));
  }
  std::unique_ptr<unsigned char, StbFree> decoded(
      stbi_load_from_memory(data, len, &w, &h, &comp, 0));
  if (!decoded) {
    return absl::InvalidArgumentError(absl::StrCat("corrupt image (", stbi_failure_reason(), ")"));
  }
  Pixels p;
  p.width = w;
  p.height = h;
  p.channels = comp;
  p.data.assign(decoded.get(), decoded.get() + static_cast<size_t>(w) * h * comp);
  return p;
}

Pixels ToColour(const Pixels& in, int channels, const std::array<uint8_t, 3>& background) {
  const bool alpha = in.channels == 2 || in.channels == 4;
  if (!alpha && in.channels == channels) return in;
  Pixels out;
  out.width = in.width;
  out.height = in.height;
  out.channels = channels;
  const size_t n = static_cast<size_t>(in.width) * in.height;
  out.data.resize(n * channels);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = &in.data[i * in.channels];
    const bool grey = in.channels <= 2;
    uint8_t rgb[3] = {p[0], grey ? p[0] : p[1], grey ? p[0] : p[2]};
    if (alpha) {
      const uint32_t a = p[in.channels - 1];
      for (int c = 0; c < 3; ++c) rgb[c] = a == 0 ? background[c] : Over(rgb[c], background[c], a);
    }
    if (channels == 1) {
      out.data[i] = grey && !alpha ? p[0] : Luma(rgb[0], rgb[1], rgb[2]);
    } else {
      for (int c = 0; c < 3; ++c) out.data[i * 3 + c] = rgb[c];
    }
  }
  return out;
}

Pixels ResizeBilinear(const Pixels& in, int width, int height) {
  Pixels out = in.width != width ? ResamplePass(in, width, /*horizontal=*/true) : in;
  return in.height != height ? ResamplePass(out, height, /*horizontal=*/false) : out;
}

std::array<int, 2> ShorterSideSize(int width, int height, int shorter) {
  const bool wide = width > height;
  const int64_t small = wide ? height : width, large = wide ? width : height;
  const int longer = static_cast<int>(static_cast<double>(shorter * large) / small);
  return wide ? std::array<int, 2>{longer, shorter} : std::array<int, 2>{shorter, longer};
}

Pixels CenterCrop(const Pixels& in, int width, int height) {
  // Padding first where the crop is larger; the image keeps the top-left
  // share of the odd pixel.
  const int pad_left = std::max(width - in.width, 0) / 2;
  const int pad_top = std::max(height - in.height, 0) / 2;
  const int padded_w = std::max(width, in.width), padded_h = std::max(height, in.height);
  const int left = RoundHalfEven(padded_w - width), top = RoundHalfEven(padded_h - height);
  Pixels out;
  out.width = width;
  out.height = height;
  out.channels = in.channels;
  out.data.assign(static_cast<size_t>(width) * height * in.channels, 0);
  for (int y = 0; y < height; ++y) {
    const int sy = y + top - pad_top;
    if (sy < 0 || sy >= in.height) continue;
    for (int x = 0; x < width; ++x) {
      const int sx = x + left - pad_left;
      if (sx < 0 || sx >= in.width) continue;
      for (int c = 0; c < in.channels; ++c) {
        out.data[(static_cast<size_t>(y) * width + x) * in.channels + c] = in.at(sy, sx, c);
      }
    }
  }
  return out;
}

Pixels PrepareImage(const Pixels& in, const Preprocessing& pre) {
  Pixels p = ToColour(in, pre.channels, pre.background);
  if (pre.resize_mode == Preprocessing::ResizeMode::kShorterSide) {
    const int shorter = pre.resize_shorter_side > 0 ? pre.resize_shorter_side
                                                    : std::min(pre.resize_height, pre.resize_width);
    const auto [w, h] = ShorterSideSize(p.width, p.height, shorter);
    return CenterCrop(ResizeBilinear(p, std::max(w, 1), std::max(h, 1)), pre.resize_width,
                      pre.resize_height);
  }
  return ResizeBilinear(p, pre.resize_width, pre.resize_height);
}

std::vector<uint8_t> ToCHW(const Pixels& in) {
  const size_t plane = static_cast<size_t>(in.width) * in.height;
  std::vector<uint8_t> out(plane * in.channels);
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < in.channels; ++c) out[c * plane + i] = in.data[i * in.channels + c];
  }
  return out;
}

Pixels FromCHW(const uint8_t* chw, int channels, int height, int width) {
  Pixels out{width, height, channels, {}};
  const size_t plane = static_cast<size_t>(width) * height;
  out.data.resize(plane * channels);
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < channels; ++c) out.data[i * channels + c] = chw[c * plane + i];
  }
  return out;
}

void ToNormalizedCHW(const Pixels& in, const std::vector<float>& mean,
                     const std::vector<float>& std, float* out) {
  const size_t plane = static_cast<size_t>(in.width) * in.height;
  for (int c = 0; c < in.channels; ++c) {
    const float m = c < static_cast<int>(mean.size()) ? mean[c] : 0.f;
    const float s = c < static_cast<int>(std.size()) ? std[c] : 1.f;
    for (size_t i = 0; i < plane; ++i) {
      out[c * plane + i] = NormalizePixel(in.data[i * in.channels + c], m, s);
    }
  }
}

}  // namespace adaptd::engine
