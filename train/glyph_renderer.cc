#include "train/glyph_renderer.h"

#include FT_BBOX_H
#include FT_OUTLINE_H

#include <algorithm>
#include <cmath>

namespace adaptd::train {
namespace {

constexpr int kSuper = 4;                        // Supersampling factor.
constexpr int kCanvas = kImageSide * kSuper;     // 112: the high-res canvas.
constexpr double kEmPixels = 24;                 // Output pixels per em.
constexpr int kPpem = static_cast<int>(kEmPixels) * kSuper;
constexpr double kFitPixels = 22;   // Larger glyphs are shrunk to this.
constexpr double kMaxPixels = 26;   // Hard limit after distortion.
constexpr double kMinSizeEm = 0.2;  // Smaller glyphs (dots, marks) are left out.

// A smooth random displacement field over the 28x28 output, in pixels.
void ElasticField(double rms, double sigma, Rng& rng, std::vector<float>* fx,
                  std::vector<float>* fy) {
  const int n = kImageSide;
  const int radius = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  std::vector<float> kernel(2 * radius + 1);
  for (int i = -radius; i <= radius; ++i) kernel[i + radius] = std::exp(-0.5 * i * i / (sigma * sigma));
  std::vector<float> tmp(n * n);
  auto blur = [&](std::vector<float>& f) {
    for (int y = 0; y < n; ++y) {
      for (int x = 0; x < n; ++x) {
        float s = 0;
        for (int k = -radius; k <= radius; ++k) {
          const int xx = x + k;
          if (xx >= 0 && xx < n) s += kernel[k + radius] * f[y * n + xx];
        }
        tmp[y * n + x] = s;
      }
    }
    for (int y = 0; y < n; ++y) {
      for (int x = 0; x < n; ++x) {
        float s = 0;
        for (int k = -radius; k <= radius; ++k) {
          const int yy = y + k;
          if (yy >= 0 && yy < n) s += kernel[k + radius] * tmp[yy * n + x];
        }
        f[y * n + x] = s;
      }
    }
  };
  fx->resize(n * n);
  fy->resize(n * n);
  for (auto& v : *fx) v = static_cast<float>(rng.Uniform(-1, 1));
  for (auto& v : *fy) v = static_cast<float>(rng.Uniform(-1, 1));
  blur(*fx);
  blur(*fy);
  double energy = 0;
  for (int i = 0; i < n * n; ++i) energy += (*fx)[i] * (*fx)[i] + (*fy)[i] * (*fy)[i];
  const double current = std::sqrt(energy / (n * n));
  const float k = current > 0 ? static_cast<float>(rms / current) : 0.f;
  for (int i = 0; i < n * n; ++i) {
    (*fx)[i] *= k;
    (*fy)[i] *= k;
  }
}

float Bilinear(const std::vector<float>& f, int n, double x, double y) {
  // Samples sit at cell centres (i + 0.5); clamp at the borders.
  x = std::clamp(x - 0.5, 0.0, n - 1.0);
  y = std::clamp(y - 0.5, 0.0, n - 1.0);
  const int x0 = std::min(static_cast<int>(x), n - 2), y0 = std::min(static_cast<int>(y), n - 2);
  const double ax = x - x0, ay = y - y0;
  const float* r0 = &f[y0 * n + x0];
  const float* r1 = r0 + n;
  return static_cast<float>((1 - ay) * ((1 - ax) * r0[0] + ax * r0[1]) +
                            ay * ((1 - ax) * r1[0] + ax * r1[1]));
}

}  // namespace

Distortion DrawDistortion(const GlyphOptions& o, Rng& rng) {
  Distortion d;
  d.embolden = rng.Uniform(o.min_embolden, o.max_embolden);
  d.rotation = rng.Uniform(-o.max_rotation_degrees, o.max_rotation_degrees) * M_PI / 180;
  d.shear = rng.Uniform(-o.max_shear, o.max_shear);
  d.scale = std::exp(rng.Uniform(-o.scale_jitter, o.scale_jitter / 2));
  d.aspect = rng.Uniform(-o.aspect_jitter, o.aspect_jitter);
  d.shift_x = rng.Uniform(-o.max_shift, o.max_shift);
  d.shift_y = rng.Uniform(-o.max_shift, o.max_shift);
  d.elastic = o.elastic_rms * rng.Uniform(0.5, 1.5);
  return d;
}

Renderer::Renderer(const std::vector<FontFace>& fonts)
    : fonts_(fonts), faces_(fonts.size(), nullptr), canvas_(kCanvas * kCanvas) {}

Renderer::~Renderer() {
  for (FT_Face f : faces_) {
    if (f != nullptr) FT_Done_Face(f);
  }
}

absl::Status Renderer::Init() {
  if (FT_Init_FreeType(&ft_.lib) != 0) return absl::InternalError("FreeType: init failed");
  return absl::OkStatus();
}

bool Renderer::Usable(int font, uint32_t cp) {
  FT_Outline* outline = Load(font, cp);
  if (outline == nullptr || faces_[font]->glyph->advance.x <= 0) return false;
  FT_BBox box;
  if (FT_Outline_Get_BBox(outline, &box) != 0) return false;
  const double size = std::max(box.xMax - box.xMin, box.yMax - box.yMin) / 64.0;
  return size >= kMinSizeEm * kPpem;
}

bool Renderer::Render(int font, uint32_t cp, const Distortion* d, const GlyphOptions& options,
                      Rng* rng, uint8_t* out) {
  FT_Outline* outline = Load(font, cp);
  if (outline == nullptr) return false;
  if (d != nullptr && d->embolden != 0) {
    const FT_Pos e = static_cast<FT_Pos>(std::lround(d->embolden * kSuper * 64));
    FT_Outline_EmboldenXY(outline, e, e);
  }
  FT_BBox box;
  if (FT_Outline_Get_BBox(outline, &box) != 0) return false;
  FT_Outline_Translate(outline, -(box.xMin + box.xMax) / 2, -(box.yMin + box.yMax) / 2);
  const double size = std::max(box.xMax - box.xMin, box.yMax - box.yMin) / 64.0;
  if (size <= 0) return false;
  double fit = std::min(1.0, kFitPixels * kSuper / size);
  double a = fit, b = 0, c = 0, e = fit;  // x' = a x + b y; y' = c x + e y.
  if (d != nullptr) {
    const double sx = d->scale * (1 + d->aspect), sy = d->scale * (1 - d->aspect);
    const double cs = std::cos(d->rotation), sn = std::sin(d->rotation);
    // R * Shear * Scale * fit.
    const double m00 = sx, m01 = d->shear * sy, m10 = 0, m11 = sy;
    a = fit * (cs * m00 - sn * m10);
    b = fit * (cs * m01 - sn * m11);
    c = fit * (sn * m00 + cs * m10);
    e = fit * (sn * m01 + cs * m11);
  }
  Transform(outline, a, b, c, e);
  if (FT_Outline_Get_BBox(outline, &box) != 0) return false;
  const double after = std::max(box.xMax - box.xMin, box.yMax - box.yMin) / 64.0;
  if (after > kMaxPixels * kSuper) {
    const double s = kMaxPixels * kSuper / after;
    Transform(outline, s, 0, 0, s);
    FT_Outline_Get_BBox(outline, &box);
  }
  const double shift_x = d != nullptr ? d->shift_x * kSuper * 64 : 0;
  const double shift_y = d != nullptr ? d->shift_y * kSuper * 64 : 0;
  FT_Outline_Translate(
      outline, static_cast<FT_Pos>(std::lround(kCanvas * 32 - (box.xMin + box.xMax) / 2.0 + shift_x)),
      static_cast<FT_Pos>(std::lround(kCanvas * 32 - (box.yMin + box.yMax) / 2.0 + shift_y)));

  std::fill(canvas_.begin(), canvas_.end(), 0);
  FT_Bitmap bitmap = {};
  bitmap.rows = kCanvas;
  bitmap.width = kCanvas;
  bitmap.pitch = kCanvas;
  bitmap.buffer = canvas_.data();
  bitmap.pixel_mode = FT_PIXEL_MODE_GRAY;
  bitmap.num_grays = 256;
  if (FT_Outline_Get_Bitmap(ft_.lib, outline, &bitmap) != 0) return false;

  if (d != nullptr && d->elastic > 0 && rng != nullptr) {
    ElasticField(d->elastic, options.elastic_sigma, *rng, &fx_, &fy_);
  } else {
    fx_.assign(kImagePixels, 0.f);
    fy_.assign(kImagePixels, 0.f);
  }
  Downsample(out);
  return true;
}

FT_Face Renderer::Face(int font) {
  if (faces_[font] == nullptr) {
    FT_Face face = nullptr;
    const FontFace& f = fonts_[font];
    if (FT_New_Face(ft_.lib, f.path.c_str(), f.index, &face) != 0) return nullptr;
    if (FT_Select_Charmap(face, FT_ENCODING_UNICODE) != 0 ||
        FT_Set_Pixel_Sizes(face, 0, kPpem) != 0) {
      FT_Done_Face(face);
      return nullptr;
    }
    faces_[font] = face;
  }
  return faces_[font];
}

FT_Outline* Renderer::Load(int font, uint32_t cp) {
  FT_Face face = Face(font);
  if (face == nullptr) return nullptr;
  const FT_UInt gi = FT_Get_Char_Index(face, cp);
  if (gi == 0 || FT_Load_Glyph(face, gi, FT_LOAD_NO_HINTING | FT_LOAD_NO_BITMAP) != 0) {
    return nullptr;
  }
  if (face->glyph->format != FT_GLYPH_FORMAT_OUTLINE || face->glyph->outline.n_points == 0) {
    return nullptr;
  }
  return &face->glyph->outline;
}

void Renderer::Transform(FT_Outline* outline, double a, double b, double c, double e) {
  FT_Matrix m;
  m.xx = static_cast<FT_Fixed>(std::lround(a * 65536));
  m.xy = static_cast<FT_Fixed>(std::lround(b * 65536));
  m.yx = static_cast<FT_Fixed>(std::lround(c * 65536));
  m.yy = static_cast<FT_Fixed>(std::lround(e * 65536));
  FT_Outline_Transform(outline, &m);
}

float Renderer::Canvas(double x, double y) const {
  // Bilinear, zero outside; (x, y) in canvas pixel-centre coordinates.
  const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y));
  const double ax = x - x0, ay = y - y0;
  auto at = [&](int xx, int yy) -> float {
    return (xx < 0 || yy < 0 || xx >= kCanvas || yy >= kCanvas) ? 0.f : canvas_[yy * kCanvas + xx];
  };
  return static_cast<float>((1 - ay) * ((1 - ax) * at(x0, y0) + ax * at(x0 + 1, y0)) +
                            ay * ((1 - ax) * at(x0, y0 + 1) + ax * at(x0 + 1, y0 + 1)));
}

// Averages kSuper x kSuper displaced samples per output pixel.
void Renderer::Downsample(uint8_t* out) const {
  const bool displaced = std::any_of(fx_.begin(), fx_.end(), [](float v) { return v != 0; });
  for (int y = 0; y < kImageSide; ++y) {
    for (int x = 0; x < kImageSide; ++x) {
      float sum = 0;
      for (int j = 0; j < kSuper; ++j) {
        for (int i = 0; i < kSuper; ++i) {
          if (!displaced) {
            sum += canvas_[(y * kSuper + j) * kCanvas + x * kSuper + i];
            continue;
          }
          const double u = x + (i + 0.5) / kSuper, v = y + (j + 0.5) / kSuper;
          const double su = u + Bilinear(fx_, kImageSide, u, v);
          const double sv = v + Bilinear(fy_, kImageSide, u, v);
          sum += Canvas(su * kSuper - 0.5, sv * kSuper - 0.5);
        }
      }
      out[y * kImageSide + x] =
          static_cast<uint8_t>(std::clamp(std::lround(sum / (kSuper * kSuper)), 0L, 255L));
    }
  }
}

}  // namespace adaptd::train
