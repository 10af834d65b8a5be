#include "train/clipart.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/status_macros.h"
#include "server/common/thread_pool.h"
#include "train/random.h"
#include "server/common/file_util.h"
#include "train/splits.h"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

namespace adaptd::train {
namespace {

namespace fs = std::filesystem;

// The drawing is reduced to this many pixels on its longer side before the
// warps, so that 2x2 supersampling of the 28x28 output does not alias.
constexpr int kWorkSide = 64;
constexpr int kSuper = 2;

struct Drawing {
  fs::path path;
  std::string group;  // Its category: up to `category_depth` folders below the root.
  std::string name;   // Path below the root.
};

std::vector<Drawing> ListDrawings(const fs::path& root, int category_depth) {
  std::vector<Drawing> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file() || absl::AsciiStrToLower(it->path().extension().string()) != ".png") {
      continue;
    }
    const fs::path rel = it->path().lexically_relative(root);
    fs::path group;
    int depth = 0;
    for (auto part = rel.begin(); part != rel.end() && std::next(part) != rel.end() &&
                                  depth < category_depth;
         ++part, ++depth) {
      group /= *part;
    }
    out.push_back({it->path(), group.empty() ? std::string("(root)") : group.generic_string(),
                   rel.generic_string()});
  }
  std::sort(out.begin(), out.end(), [](const Drawing& a, const Drawing& b) { return a.name < b.name; });
  return out;
}

// The drawing's "ink": opacity times darkness-weighted brightness, so the
// shape is filled and its inner detail stays visible; cropped to its
// bounding box and reduced to kWorkSide. Empty when there is no ink.
struct Ink {
  std::vector<float> pixels;
  int width = 0, height = 0;
};

Ink LoadInk(const fs::path& path) {
  Ink ink;
  const absl::StatusOr<std::string> read = ReadFile(path.string());
  if (!read.ok()) return ink;
  const std::string& bytes = *read;
  if (bytes.empty() || bytes.size() > (1u << 28)) return ink;
  int w = 0, h = 0, comp = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> rgba(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                            static_cast<int>(bytes.size()), &w, &h, &comp, 4),
      stbi_image_free);
  if (!rgba || w <= 0 || h <= 0) return ink;
  bool opaque = true;
  for (int64_t i = 0; i < static_cast<int64_t>(w) * h && opaque; ++i) opaque = rgba.get()[i * 4 + 3] == 255;
  std::vector<uint8_t> value(static_cast<size_t>(w) * h);
  int x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const unsigned char* p = rgba.get() + (static_cast<int64_t>(y) * w + x) * 4;
      const double lum = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
      // Transparent backgrounds: the alpha is the shape. Opaque drawings
      // (on white): darkness is.
      const double v = opaque ? 255 - lum : p[3] / 255.0 * (255 - 0.6 * lum);
      const uint8_t u = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      value[static_cast<size_t>(y) * w + x] = u;
      if (u > 24) {
        x0 = std::min(x0, x);
        y0 = std::min(y0, y);
        x1 = std::max(x1, x);
        y1 = std::max(y1, y);
      }
    }
  }
  if (x1 < x0 || y1 < y0) return ink;
  const int cw = x1 - x0 + 1, ch = y1 - y0 + 1;
  const double s = static_cast<double>(kWorkSide) / std::max(cw, ch);
  ink.width = std::max(1, static_cast<int>(std::lround(cw * s)));
  ink.height = std::max(1, static_cast<int>(std::lround(ch * s)));
  std::vector<uint8_t> small(static_cast<size_t>(ink.width) * ink.height);
  if (!stbir_resize_uint8(value.data() + static_cast<size_t>(y0) * w + x0, cw, ch, w, small.data(),
                          ink.width, ink.height, 0, 1)) {
    return Ink{};
  }
  ink.pixels.assign(small.begin(), small.end());
  return ink;
}

float Sample(const Ink& ink, double x, double y) {
  // Bilinear with pixel centres at i + 0.5, zero outside.
  x -= 0.5;
  y -= 0.5;
  const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y));
  const double ax = x - x0, ay = y - y0;
  auto at = [&](int xx, int yy) -> float {
    return (xx < 0 || yy < 0 || xx >= ink.width || yy >= ink.height)
               ? 0.f
               : ink.pixels[static_cast<size_t>(yy) * ink.width + xx];
  };
  return static_cast<float>((1 - ay) * ((1 - ax) * at(x0, y0) + ax * at(x0 + 1, y0)) +
                            ay * ((1 - ax) * at(x0, y0 + 1) + ax * at(x0 + 1, y0 + 1)));
}

// One warped 28x28 render: fit, then rotation, shear, scale and shift drawn
// from `rng` (none when rng is null).
void Render(const Ink& ink, const ClipartOptions& o, Rng* rng, uint8_t* out) {
  double rotation = 0, shear = 0, scale = 1, dx = 0, dy = 0;
  if (rng != nullptr) {
    rotation = rng->Uniform(-o.max_rotation_degrees, o.max_rotation_degrees) * M_PI / 180;
    shear = rng->Uniform(-o.max_shear, o.max_shear);
    scale = std::exp(rng->Uniform(-o.scale_jitter, o.scale_jitter / 2));
    dx = rng->Uniform(-o.max_shift, o.max_shift);
    dy = rng->Uniform(-o.max_shift, o.max_shift);
  }
  // Output offset from the centre -> ink offset from its centre: the inverse
  // of (rotation * shear * scale * fit).
  const double fit = o.fit_pixels / std::max(ink.width, ink.height) * scale;
  const double cs = std::cos(rotation), sn = std::sin(rotation);
  // Forward A = R * [[1, shear], [0, 1]] * fit; inverse by hand.
  const double a = fit * cs, b = fit * (cs * shear - sn), c = fit * sn, d = fit * (sn * shear + cs);
  const double det = a * d - b * c;
  const double ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
  const double cx = ink.width / 2.0, cy = ink.height / 2.0;
  const double half = kImageSide / 2.0;
  for (int y = 0; y < kImageSide; ++y) {
    for (int x = 0; x < kImageSide; ++x) {
      float sum = 0;
      for (int j = 0; j < kSuper; ++j) {
        for (int i = 0; i < kSuper; ++i) {
          const double u = x + (i + 0.5) / kSuper - half - dx;
          const double v = y + (j + 0.5) / kSuper - half - dy;
          sum += Sample(ink, cx + ia * u + ib * v, cy + ic * u + id * v);
        }
      }
      out[y * kImageSide + x] =
          static_cast<uint8_t>(std::clamp(std::lround(sum / (kSuper * kSuper)), 0L, 255L));
    }
  }
}

std::vector<Drawing> Chosen(const ClipartOptions& o) {
  std::vector<Drawing> drawings = ListDrawings(o.root, o.category_depth);
  if (o.max_images > 0 && static_cast<int>(drawings.size()) > o.max_images) {
    Rng rng(MixSeed(o.seed, {Fnv1a("clipart-choice")}));
    for (size_t i = drawings.size() - 1; i > 0; --i) std::swap(drawings[i], drawings[rng.Below(i + 1)]);
    drawings.resize(o.max_images);
    std::sort(drawings.begin(), drawings.end(),
              [](const Drawing& a, const Drawing& b) { return a.name < b.name; });
  }
  return drawings;
}

}  // namespace

std::string ClipartFingerprint(const ClipartOptions& o) {
  std::vector<Drawing> drawings = Chosen(o);
  uint64_t h = Fnv1a("");
  for (const auto& d : drawings) {
    std::error_code ec;
    const auto size = fs::file_size(d.path, ec);
    h = Fnv1a(absl::StrCat(d.name, ":", ec ? 0 : size, ";"), h);
  }
  return absl::StrFormat(
      "clipart root=%s drawings=%d listing=%016x instances=%d seed=%d rot=%g shear=%g scale=%g "
      "shift=%g fit=%g depth=%d split=%g/%g/%d",
      o.root, drawings.size(), h, o.instances, o.seed, o.max_rotation_degrees, o.max_shear,
      o.scale_jitter, o.max_shift, o.fit_pixels, o.category_depth, o.split.train_fraction,
      o.split.val_fraction, o.split.seed);
}

absl::StatusOr<Dataset> RenderClipart(const ClipartOptions& o, int* skipped,
                                      const std::function<void(int done, int total)>& progress) {
  if (o.instances < 1) return absl::InvalidArgumentError("instances: must be at least 1");
  const std::vector<Drawing> drawings = Chosen(o);
  if (drawings.empty()) {
    return absl::NotFoundError(absl::StrCat("clipart root ", o.root, ": no .png files"));
  }
  const int n = static_cast<int>(drawings.size());
  // Renders per drawing, in drawing order; empty when it was skipped.
  std::vector<std::vector<uint8_t>> renders(n);
  std::atomic<int> done{0};
  std::mutex progress_mu;
  ParallelFor(n, o.threads, [&](int k, int) {
    Ink ink = LoadInk(drawings[k].path);
    if (!ink.pixels.empty()) {
      renders[k].resize(static_cast<size_t>(o.instances) * kImagePixels);
      Rng rng(MixSeed(o.seed, {Fnv1a(drawings[k].name)}));
      for (int i = 0; i < o.instances; ++i) {
        Render(ink, o, &rng, renders[k].data() + static_cast<size_t>(i) * kImagePixels);
      }
    }
    const int finished = ++done;
    if (progress) {
      std::lock_guard<std::mutex> lock(progress_mu);
      progress(finished, n);
    }
  });

  Dataset data;
  int dropped = 0;
  for (int k = 0; k < n; ++k) {
    if (renders[k].empty()) {
      ++dropped;
      continue;
    }
    auto g = std::find(data.group_names.begin(), data.group_names.end(), drawings[k].group);
    const int32_t group = g != data.group_names.end()
                              ? static_cast<int32_t>(g - data.group_names.begin())
                              : data.AddGroup(drawings[k].group);
    const int32_t label = data.AddClass(drawings[k].name, group);
    for (int i = 0; i < o.instances; ++i) {
      data.AddImage(label, renders[k].data() + static_cast<size_t>(i) * kImagePixels);
    }
  }
  // Split by category, each weighing the same however many drawings it has
  // (one folder of icons holds a quarter of openclipart-png).
  Dataset categories = GroupsAsClasses(data);
  if (categories.num_groups() >= 3) {
    RETURN_IF_ERROR(AssignSplitsByGroup(&categories, o.split));
    data.group_splits = categories.group_splits;
  } else {
    data.group_splits.assign(data.group_names.size(), Split::kTrain);
  }
  if (skipped != nullptr) *skipped = dropped;
  if (data.num_classes() == 0) {
    return absl::NotFoundError(absl::StrCat("clipart root ", o.root, ": no drawable .png files"));
  }
  return data;
}

}  // namespace adaptd::train
