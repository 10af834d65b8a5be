#include "train/exemplars.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/status_macros.h"
#include "server/common/thread_pool.h"
#include "train/random.h"

#include <stb/stb_image_resize.h>

namespace adaptd::train {
namespace {

// 2x2 supersampling of every output pixel; the picture is first reduced to
// twice the output's longer side (at least 64 pixels) so that it does not
// alias.
constexpr int kSuper = 2;
constexpr int kMinWorkSide = 64;
// Pixels with less coverage than this (of 255) do not count towards the
// picture's bounding box.
constexpr int kInkThreshold = 24;

// The picture reduced for rendering: 1 channel (ink) or 4 (premultiplied
// RGBA), interleaved, cropped to what is drawn.
struct Work {
  std::vector<float> pixels;
  int width = 0, height = 0, channels = 0;
};

// Whether no pixel of `image` is see-through: a picture drawn on paper.
bool Opaque(const RgbaImage& image) {
  for (size_t i = 3; i < image.pixels.size(); i += 4) {
    if (image.pixels[i] != 255) return false;
  }
  return true;
}

// Ink: transparent backgrounds make the alpha the shape; opaque pictures
// (drawn on white) make darkness the shape. Brightness is weighted so that
// the shape is filled and its inner detail stays visible.
std::vector<uint8_t> InkOf(const RgbaImage& image) {
  const int64_t n = int64_t{image.width} * image.height;
  const uint8_t* p = image.pixels.data();
  const bool opaque = Opaque(image);
  std::vector<uint8_t> ink(n);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* q = p + i * 4;
    const double lum = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
    const double v = opaque ? 255 - lum : q[3] / 255.0 * (255 - 0.6 * lum);
    ink[i] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
  }
  return ink;
}

// Premultiplied RGBA; an opaque picture's near-white pixels become
// transparent (its paper is not part of the object).
std::vector<uint8_t> PremultipliedOf(const RgbaImage& image) {
  const int64_t n = int64_t{image.width} * image.height;
  const uint8_t* p = image.pixels.data();
  const bool opaque = Opaque(image);
  std::vector<uint8_t> out(n * 4);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* q = p + i * 4;
    const int darkest = std::min({q[0], q[1], q[2]});
    const int a = opaque ? std::min(255, (255 - darkest) * 4) : q[3];
    for (int c = 0; c < 3; ++c) out[i * 4 + c] = static_cast<uint8_t>((q[c] * a + 127) / 255);
    out[i * 4 + 3] = static_cast<uint8_t>(a);
  }
  return out;
}

// `image` as 1 or 4 channels, cropped to where coverage (the last channel)
// exceeds kInkThreshold and reduced so its longer side is `side`. Empty
// when nothing is drawn.
Work Prepare(const RgbaImage& image, int channels, int side) {
  const int w = image.width, h = image.height;
  const std::vector<uint8_t> src = channels == 1 ? InkOf(image) : PremultipliedOf(image);
  int x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      if (src[(static_cast<size_t>(y) * w + x) * channels + channels - 1] > kInkThreshold) {
        x0 = std::min(x0, x);
        y0 = std::min(y0, y);
        x1 = std::max(x1, x);
        y1 = std::max(y1, y);
      }
    }
  }
  if (x1 < x0 || y1 < y0) return Work{};
  const int cw = x1 - x0 + 1, ch = y1 - y0 + 1;
  const double s = static_cast<double>(side) / std::max(cw, ch);
  Work work;
  work.channels = channels;
  work.width = std::max(1, static_cast<int>(std::lround(cw * s)));
  work.height = std::max(1, static_cast<int>(std::lround(ch * s)));
  std::vector<uint8_t> small(static_cast<size_t>(work.width) * work.height * channels);
  if (!stbir_resize_uint8(src.data() + (static_cast<size_t>(y0) * w + x0) * channels, cw, ch,
                          w * channels, small.data(), work.width, work.height, 0, channels)) {
    return Work{};
  }
  work.pixels.assign(small.begin(), small.end());
  return work;
}

// Bilinear with pixel centres at i + 0.5, zero outside; adds each channel's
// sample to `sum`.
void Sample(const Work& work, double x, double y, float* sum) {
  x -= 0.5;
  y -= 0.5;
  const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y));
  const double ax = x - x0, ay = y - y0;
  auto at = [&](int xx, int yy, int c) -> float {
    return (xx < 0 || yy < 0 || xx >= work.width || yy >= work.height)
               ? 0.f
               : work.pixels[(static_cast<size_t>(yy) * work.width + xx) * work.channels + c];
  };
  for (int c = 0; c < work.channels; ++c) {
    sum[c] += static_cast<float>((1 - ay) * ((1 - ax) * at(x0, y0, c) + ax * at(x0 + 1, y0, c)) +
                                 ay * ((1 - ax) * at(x0, y0 + 1, c) + ax * at(x0 + 1, y0 + 1, c)));
  }
}

// A render's random draws.
struct Warp {
  double rotation = 0, shear = 0, scale = 1, dx = 0, dy = 0;
  uint8_t background[3] = {0, 0, 0};
};

Warp DrawWarp(const ExemplarOptions& o, Rng& rng) {
  Warp w;
  const double unit = std::min(o.shape.height, o.shape.width) / static_cast<double>(kImageSide);
  w.rotation = rng.Uniform(-o.max_rotation_degrees, o.max_rotation_degrees) * M_PI / 180;
  w.shear = rng.Uniform(-o.max_shear, o.max_shear);
  w.scale = std::exp(rng.Uniform(-o.scale_jitter, o.scale_jitter / 2));
  w.dx = rng.Uniform(-o.max_shift, o.max_shift) * unit;
  w.dy = rng.Uniform(-o.max_shift, o.max_shift) * unit;
  if (o.shape.channels == 3) {
    for (uint8_t& c : w.background) c = static_cast<uint8_t>(rng.Below(256));
  }
  return w;
}

uint8_t ToByte(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

// One warped render into `out` (CHW): fit, then rotation, shear, scale and
// shift.
void Render(const Work& work, const ExemplarOptions& o, const Warp& w, uint8_t* out) {
  const int height = o.shape.height, width = o.shape.width;
  const double unit = std::min(height, width) / static_cast<double>(kImageSide);
  // Output offset from the centre -> picture offset from its centre: the
  // inverse of A = R * [[1, shear], [0, 1]] * fit, by hand.
  const double fit = o.fit_pixels * unit / std::max(work.width, work.height) * w.scale;
  const double cs = std::cos(w.rotation), sn = std::sin(w.rotation);
  const double a = fit * cs, b = fit * (cs * w.shear - sn), c = fit * sn;
  const double d = fit * (sn * w.shear + cs);
  const double det = a * d - b * c;
  const double ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
  const double cx = work.width / 2.0, cy = work.height / 2.0;
  const int64_t plane = int64_t{height} * width;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      float sum[4] = {0, 0, 0, 0};
      for (int j = 0; j < kSuper; ++j) {
        for (int i = 0; i < kSuper; ++i) {
          const double u = x + (i + 0.5) / kSuper - width / 2.0 - w.dx;
          const double v = y + (j + 0.5) / kSuper - height / 2.0 - w.dy;
          Sample(work, cx + ia * u + ib * v, cy + ic * u + id * v, sum);
        }
      }
      const int64_t at = int64_t{y} * width + x;
      constexpr float kSamples = kSuper * kSuper;
      if (work.channels == 1) {
        out[at] = ToByte(sum[0] / kSamples);
        continue;
      }
      const double uncovered = 1 - sum[3] / kSamples / 255;
      for (int ch = 0; ch < 3; ++ch) {
        out[ch * plane + at] = ToByte(sum[ch] / kSamples + uncovered * w.background[ch]);
      }
    }
  }
}

// The renders of one picture, or empty when it cannot be drawn.
std::vector<uint8_t> RenderPicture(const Picture& picture, const ExemplarOptions& o) {
  const absl::StatusOr<RgbaImage> image = picture.decode();
  if (!image.ok() || image->width <= 0 || image->height <= 0 ||
      image->pixels.size() != size_t{4} * image->width * image->height) {
    return {};
  }
  const int side = std::max(kMinWorkSide, 2 * std::max(o.shape.height, o.shape.width));
  const Work work = Prepare(*image, o.shape.channels == 1 ? 1 : 4, side);
  if (work.pixels.empty()) return {};
  std::vector<uint8_t> renders(static_cast<size_t>(o.instances) * o.shape.bytes());
  Rng rng(MixSeed(o.seed, {Fnv1a(picture.name)}));
  for (int i = 0; i < o.instances; ++i) {
    Render(work, o, DrawWarp(o, rng), renders.data() + i * o.shape.bytes());
  }
  return renders;
}

// The rendered pictures as classes of their groups, in picture order.
Dataset Collect(const std::vector<Picture>& pictures,
                const std::vector<std::vector<uint8_t>>& renders, const ExemplarOptions& o) {
  Dataset data;
  data.shape = o.shape;
  for (size_t k = 0; k < pictures.size(); ++k) {
    if (renders[k].empty()) continue;
    auto g = std::find(data.group_names.begin(), data.group_names.end(), pictures[k].group);
    const int32_t group = g != data.group_names.end()
                              ? static_cast<int32_t>(g - data.group_names.begin())
                              : data.AddGroup(pictures[k].group);
    const int32_t label = data.AddClass(pictures[k].name, group);
    for (int i = 0; i < o.instances; ++i) data.AddImage(label, &renders[k][i * o.shape.bytes()]);
  }
  return data;
}

}  // namespace

std::string ExemplarFingerprint(const ExemplarOptions& o) {
  return absl::StrFormat(
      "instances=%d seed=%d rot=%g shear=%g scale=%g shift=%g fit=%g split=%g/%g/%d%s",
      o.instances, o.seed, o.max_rotation_degrees, o.max_shear, o.scale_jitter, o.max_shift,
      o.fit_pixels, o.split.train_fraction, o.split.val_fraction, o.split.seed,
      o.shape == ImageShape{} ? "" : absl::StrCat(" images=", ShapeText(o.shape)));
}

absl::StatusOr<Dataset> RenderExemplars(const std::vector<Picture>& pictures,
                                        const ExemplarOptions& o, int* skipped,
                                        const std::function<void(int done, int total)>& progress) {
  if (o.instances < 1) return absl::InvalidArgumentError("instances: must be at least 1");
  if ((o.shape.channels != 1 && o.shape.channels != 3) || o.shape.height < 1 ||
      o.shape.width < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("shape: 1 or 3 channels and positive sides, not ", ShapeText(o.shape)));
  }
  const int n = static_cast<int>(pictures.size());
  std::vector<std::vector<uint8_t>> renders(n);
  std::atomic<int> done{0};
  std::mutex progress_mu;
  ParallelFor(n, o.threads, [&](int k, int) {
    renders[k] = RenderPicture(pictures[k], o);
    const int finished = ++done;
    if (progress) {
      std::lock_guard<std::mutex> lock(progress_mu);
      progress(finished, n);
    }
  });
  Dataset data = Collect(pictures, renders, o);
  if (skipped != nullptr) *skipped = n - data.num_classes();
  if (data.num_classes() == 0) return absl::NotFoundError("no picture could be drawn");
  // Split by group, each weighing the same however many pictures it has
  // (one folder of icons holds a quarter of openclipart-png).
  Dataset groups = GroupsAsClasses(data);
  RETURN_IF_ERROR(AssignSplitsOrAllTrain(&groups, o.split));
  data.group_splits = groups.group_splits;
  return data;
}

}  // namespace adaptd::train
