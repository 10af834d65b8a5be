#include "train/glyphs.h"

#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_BBOX_H
#include FT_OUTLINE_H

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "server/engine/status_macros.h"
#include "train/random.h"

namespace adaptd::train {
namespace fs = std::filesystem;

namespace {

// Bump when rendering changes, so caches made by older code are redone.
constexpr int kRendererVersion = 1;

constexpr int kSuper = 4;                        // Supersampling factor.
constexpr int kCanvas = kImageSide * kSuper;     // 112: the high-res canvas.
constexpr double kEmPixels = 24;                 // Output pixels per em.
constexpr int kPpem = static_cast<int>(kEmPixels) * kSuper;
constexpr double kFitPixels = 22;   // Larger glyphs are shrunk to this.
constexpr double kMaxPixels = 26;   // Hard limit after distortion.
constexpr double kMinSizeEm = 0.2;  // Smaller glyphs (dots, marks) are left out.
constexpr int kFeatureSide = 14;    // Canonical renders compared at 14x14.

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// ---- Which script a code point belongs to ----------------------------------

// Blocks that many fonts share; their code points are grouped by block, not
// by font family. A null name drops the block (marks, spacing, presentation
// forms, private use, styled duplicates of Latin).
struct BlockRule {
  uint32_t first, last;
  const char* script;
};
constexpr BlockRule kBlocks[] = {
    {0x0000, 0x0020, nullptr},
    {0x0021, 0x007E, "Latin"},
    {0x007F, 0x00BF, nullptr},
    {0x00C0, 0x024F, "Latin"},
    {0x0250, 0x02AF, "IPA"},
    {0x02B0, 0x036F, nullptr},
    {0x0370, 0x03FF, "Greek"},
    {0x0400, 0x052F, "Cyrillic"},
    {0x1AB0, 0x1AFF, nullptr},
    {0x1C80, 0x1C8F, "Cyrillic"},
    {0x1D00, 0x1DBF, "IPA"},
    {0x1DC0, 0x1DFF, nullptr},
    {0x1E00, 0x1EFF, "Latin"},
    {0x1F00, 0x1FFF, "Greek"},
    {0x2000, 0x209F, nullptr},
    {0x20A0, 0x20CF, "Currency"},
    {0x20D0, 0x20FF, nullptr},
    {0x2100, 0x214F, "Letterlike"},
    {0x2150, 0x218F, "NumberForms"},
    {0x2190, 0x21FF, "Arrows"},
    {0x2200, 0x22FF, "MathOperators"},
    {0x2300, 0x23FF, "Technical"},
    {0x2400, 0x245F, nullptr},
    {0x2460, 0x24FF, "Enclosed"},
    {0x2500, 0x257F, "BoxDrawing"},
    {0x2580, 0x259F, nullptr},
    {0x25A0, 0x25FF, "GeometricShapes"},
    {0x2600, 0x26FF, "MiscSymbols"},
    {0x2700, 0x27BF, "Dingbats"},
    {0x27C0, 0x27EF, "MathSymbols"},
    {0x27F0, 0x27FF, "Arrows"},
    {0x2800, 0x28FF, "Braille"},
    {0x2900, 0x297F, "Arrows"},
    {0x2980, 0x29FF, "MathSymbols"},
    {0x2A00, 0x2AFF, "MathOperators"},
    {0x2B00, 0x2BFF, "MiscSymbolsArrows"},
    {0x2C60, 0x2C7F, "Latin"},
    {0x2DE0, 0x2DFF, nullptr},
    {0x2E00, 0x2E7F, nullptr},
    {0x3000, 0x303F, nullptr},
    {0xA640, 0xA69F, "Cyrillic"},
    {0xA720, 0xA7FF, "Latin"},
    {0xAB30, 0xAB6F, "Latin"},
    {0xD800, 0xF8FF, nullptr},
    {0xFB00, 0xFFFF, nullptr},
    {0x1D400, 0x1D7FF, nullptr},
    {0x1F000, 0x1F02F, "Mahjong"},
    {0x1F030, 0x1F09F, "Domino"},
    {0x1F0A0, 0x1F0FF, "PlayingCards"},
    {0x1F100, 0x1F1FF, "Enclosed"},
    {0x1F300, 0x1F5FF, "Pictographs"},
    {0x1F600, 0x1F64F, "Emoticons"},
    {0x1F650, 0x1F67F, "Ornaments"},
    {0x1F680, 0x1F6FF, "Transport"},
    {0x1F700, 0x1F77F, "Alchemical"},
    {0x1F780, 0x1F7FF, "GeometricShapes"},
    {0x1F800, 0x1F8FF, "Arrows"},
    {0x1F900, 0x1F9FF, "Pictographs"},
    {0x1FA00, 0x1FA6F, "Chess"},
    {0x1FB00, 0x1FBFF, "LegacyComputing"},
    {0xE0000, 0x10FFFF, nullptr},
};

// nullptr with *known = true: dropped. *known = false: a script's own block.
const char* SharedBlock(uint32_t cp, bool* known) {
  for (const auto& b : kBlocks) {
    if (cp >= b.first && cp <= b.last) {
      *known = true;
      return b.script;
    }
  }
  *known = false;
  return nullptr;
}

// "Noto Serif Devanagari" -> "Devanagari"; "" for pan-script families such
// as "Noto Sans" or "DejaVu Sans Mono".
std::string ScriptFromFamily(const std::string& family) {
  static const auto* kStyleWords = new absl::flat_hash_set<std::string>{
      "Noto", "Sans", "Serif", "Kufi", "Naskh", "Nastaliq", "Looped", "Rashi", "Traditional",
      "Display", "Mono", "Condensed", "Unjoined", "Slanted", "UI", "DejaVu", "Supplement",
      "TeX", "Gyre"};
  std::string key;
  for (absl::string_view word : absl::StrSplit(family, ' ', absl::SkipEmpty())) {
    if (!kStyleWords->contains(word)) absl::StrAppend(&key, word);
  }
  if (key == "Urdu") return "Arabic";
  if (absl::StartsWith(key, "Tifinagh")) return "Tifinagh";
  return key;
}

// ---- Fonts -----------------------------------------------------------------

struct FontFace {
  std::string path;
  int index = 0;
  std::string family;
  std::string style;
  std::string script;  // From the family; may be empty.
  std::vector<uint32_t> code_points;
};

struct FtLibrary {
  FT_Library lib = nullptr;
  ~FtLibrary() {
    if (lib != nullptr) FT_Done_FreeType(lib);
  }
};

std::vector<fs::path> FontFiles(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string ext = absl::AsciiStrToLower(it->path().extension().string());
    if (ext == ".ttf" || ext == ".otf" || ext == ".ttc") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::vector<FontFace>> DiscoverFonts(const std::string& dir) {
  FtLibrary ft;
  if (FT_Init_FreeType(&ft.lib) != 0) return absl::InternalError("FreeType: init failed");
  std::vector<FontFace> fonts;
  for (const auto& file : FontFiles(dir)) {
    FT_Long faces = 1;
    for (FT_Long index = 0; index < faces; ++index) {
      FT_Face face = nullptr;
      if (FT_New_Face(ft.lib, file.c_str(), index, &face) != 0) break;
      faces = face->num_faces;
      if (FT_IS_SCALABLE(face) && FT_Select_Charmap(face, FT_ENCODING_UNICODE) == 0 &&
          face->family_name != nullptr) {
        FontFace font;
        font.path = file.string();
        font.index = static_cast<int>(index);
        font.family = face->family_name;
        font.style = face->style_name != nullptr ? face->style_name : "";
        font.script = ScriptFromFamily(font.family);
        FT_UInt gi = 0;
        for (FT_ULong cp = FT_Get_First_Char(face, &gi); gi != 0; cp = FT_Get_Next_Char(face, cp, &gi)) {
          font.code_points.push_back(static_cast<uint32_t>(cp));
        }
        if (!font.code_points.empty()) fonts.push_back(std::move(font));
      }
      FT_Done_Face(face);
    }
  }
  if (fonts.empty()) {
    return absl::NotFoundError(absl::StrCat("font_dir: no scalable Unicode fonts under ", dir));
  }
  return fonts;
}

// ---- Rendering -------------------------------------------------------------

struct Distortion {
  double embolden = 0;          // Output pixels.
  double rotation = 0;          // Radians.
  double shear = 0;
  double scale = 1, aspect = 0;
  double shift_x = 0, shift_y = 0;
  double elastic = 0;           // RMS displacement; 0 for none.
};

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

// One thread's FreeType state: a library and the faces it has opened.
// Not thread-safe; each rendering thread owns one.
class Renderer {
 public:
  explicit Renderer(const std::vector<FontFace>& fonts)
      : fonts_(fonts), faces_(fonts.size(), nullptr), canvas_(kCanvas * kCanvas) {}
  ~Renderer() {
    for (FT_Face f : faces_) {
      if (f != nullptr) FT_Done_Face(f);
    }
  }
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  absl::Status Init() {
    if (FT_Init_FreeType(&ft_.lib) != 0) return absl::InternalError("FreeType: init failed");
    return absl::OkStatus();
  }

  // Whether `font` draws `cp` as a non-empty outline of a useful size.
  bool Usable(int font, uint32_t cp) {
    FT_Outline* outline = Load(font, cp);
    if (outline == nullptr || faces_[font]->glyph->advance.x <= 0) return false;
    FT_BBox box;
    if (FT_Outline_Get_BBox(outline, &box) != 0) return false;
    const double size = std::max(box.xMax - box.xMin, box.yMax - box.yMin) / 64.0;
    return size >= kMinSizeEm * kPpem;
  }

  // Renders `cp` in `font` into `out` (kImagePixels). `d` null: the
  // canonical, undistorted render. False when the glyph cannot be drawn.
  bool Render(int font, uint32_t cp, const Distortion* d, const GlyphOptions& options, Rng* rng,
              uint8_t* out) {
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

 private:
  FT_Face Face(int font) {
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

  FT_Outline* Load(int font, uint32_t cp) {
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

  static void Transform(FT_Outline* outline, double a, double b, double c, double e) {
    FT_Matrix m;
    m.xx = static_cast<FT_Fixed>(std::lround(a * 65536));
    m.xy = static_cast<FT_Fixed>(std::lround(b * 65536));
    m.yx = static_cast<FT_Fixed>(std::lround(c * 65536));
    m.yy = static_cast<FT_Fixed>(std::lround(e * 65536));
    FT_Outline_Transform(outline, &m);
  }

  float Canvas(double x, double y) const {
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
  void Downsample(uint8_t* out) const {
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

  const std::vector<FontFace>& fonts_;
  FtLibrary ft_;
  std::vector<FT_Face> faces_;
  std::vector<uint8_t> canvas_;
  std::vector<float> fx_, fy_;
};

// A canonical render reduced to 14x14, centred and unit-norm, so a dot
// product is a correlation. Empty when the render is blank.
std::vector<float> Signature(const uint8_t* image) {
  std::vector<float> f(kFeatureSide * kFeatureSide, 0.f);
  const int k = kImageSide / kFeatureSide;
  for (int y = 0; y < kImageSide; ++y) {
    for (int x = 0; x < kImageSide; ++x) f[(y / k) * kFeatureSide + x / k] += image[y * kImageSide + x];
  }
  double mean = 0;
  for (float v : f) mean += v;
  mean /= f.size();
  double norm = 0;
  for (float& v : f) {
    v -= static_cast<float>(mean);
    norm += v * v;
  }
  if (norm < 1e-6) return {};
  const float inv = static_cast<float>(1 / std::sqrt(norm));
  for (float& v : f) v *= inv;
  return f;
}

float Dot(const std::vector<float>& a, const float* b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

struct Candidate {
  uint32_t cp = 0;
  std::vector<int> fonts;  // Fonts of the script that have the character.
};

struct ChosenClass {
  int script = 0;  // Index into the chosen scripts.
  uint32_t cp = 0;
  std::vector<int> fonts;  // Fonts that draw it; the first is canonical.
};

// Groups every code point under one script and lists the fonts for it.
std::map<std::string, std::vector<Candidate>> CandidatesByScript(const std::vector<FontFace>& fonts) {
  std::vector<std::pair<uint32_t, int>> pairs;  // (code point, font)
  for (int f = 0; f < static_cast<int>(fonts.size()); ++f) {
    for (uint32_t cp : fonts[f].code_points) pairs.emplace_back(cp, f);
  }
  std::sort(pairs.begin(), pairs.end());
  // How many code points each script's fonts have in each 128-code-point
  // page: a code point found in several scripts' fonts (a danda in every
  // Indic font) goes to the script whose page it is.
  std::map<std::pair<std::string, uint32_t>, int> page_counts;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const std::string& script = fonts[pairs[i].second].script;
    if (script.empty()) continue;
    if (i > 0 && pairs[i - 1].first == pairs[i].first && fonts[pairs[i - 1].second].script == script) {
      continue;
    }
    ++page_counts[{script, pairs[i].first >> 7}];
  }
  std::map<std::string, std::vector<Candidate>> out;
  for (size_t i = 0; i < pairs.size();) {
    const uint32_t cp = pairs[i].first;
    size_t j = i;
    while (j < pairs.size() && pairs[j].first == cp) ++j;
    bool known = false;
    const char* shared = SharedBlock(cp, &known);
    Candidate candidate;
    candidate.cp = cp;
    std::string script;
    if (known) {
      if (shared != nullptr) {
        script = shared;
        for (size_t k = i; k < j; ++k) candidate.fonts.push_back(pairs[k].second);
      }
    } else {
      int best = -1;
      for (size_t k = i; k < j; ++k) {
        const std::string& s = fonts[pairs[k].second].script;
        if (s.empty()) continue;
        const int count = page_counts[{s, cp >> 7}];
        if (count > best || (count == best && s < script)) {
          best = count;
          script = s;
        }
      }
      for (size_t k = i; k < j; ++k) {
        if (fonts[pairs[k].second].script == script) candidate.fonts.push_back(pairs[k].second);
      }
    }
    if (!script.empty() && !candidate.fonts.empty()) out[script].push_back(std::move(candidate));
    i = j;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> GlyphFingerprint(const GlyphOptions& o) {
  uint64_t h = Fnv1a("fonts");
  int count = 0;
  for (const auto& file : FontFiles(o.font_dir)) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    h = Fnv1a(absl::StrCat(file.string(), ":", ec ? 0 : size, ";"), h);
    ++count;
  }
  if (count == 0) return absl::NotFoundError(absl::StrCat("font_dir: no fonts under ", o.font_dir));
  return absl::StrFormat(
      "glyphs renderer=%d seed=%d instances=%d max_classes_per_script=%d "
      "min_classes_per_script=%d max_scripts=%d max_similarity=%g rotation=%g shear=%g "
      "scale=%g aspect=%g shift=%g embolden=[%g,%g] elastic=%g/%g fonts=%d:%016x",
      kRendererVersion, o.seed, o.instances, o.max_classes_per_script, o.min_classes_per_script,
      o.max_scripts, o.max_similarity, o.max_rotation_degrees, o.max_shear, o.scale_jitter,
      o.aspect_jitter, o.max_shift, o.min_embolden, o.max_embolden, o.elastic_rms,
      o.elastic_sigma, count, h);
}

absl::StatusOr<Dataset> RenderGlyphs(const GlyphOptions& options, GlyphReport* report,
                                     const std::function<void(int, int)>& progress) {
  if (options.instances < 1 || options.max_classes_per_script < 1 ||
      options.min_classes_per_script < 1 ||
      options.min_classes_per_script > options.max_classes_per_script) {
    return absl::InvalidArgumentError(
        "glyphs: need instances >= 1 and 1 <= min_classes_per_script <= max_classes_per_script");
  }
  GlyphReport local;
  if (report == nullptr) report = &local;
  *report = GlyphReport();
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::vector<FontFace> fonts, DiscoverFonts(options.font_dir));
  const auto by_script = CandidatesByScript(fonts);
  report->candidate_scripts = static_cast<int>(by_script.size());

  // Choose characters script by script, in a seeded order, against the
  // canonical renders of everything chosen so far.
  std::vector<std::string> order;
  for (const auto& [script, candidates] : by_script) order.push_back(script);
  Rng order_rng(MixSeed(options.seed, {Fnv1a("script-order")}));
  order_rng.Shuffle(order);

  Renderer selector(fonts);
  RETURN_IF_ERROR(selector.Init());
  std::vector<float> signatures;  // Chosen classes' signatures, flattened.
  const size_t sig_size = kFeatureSide * kFeatureSide;
  std::vector<std::string> scripts;
  std::vector<ChosenClass> chosen;
  uint8_t image[kImagePixels];
  for (const std::string& script : order) {
    if (options.max_scripts > 0 && static_cast<int>(scripts.size()) >= options.max_scripts) break;
    std::vector<Candidate> candidates = by_script.at(script);
    Rng rng(MixSeed(options.seed, {Fnv1a(script)}));
    rng.Shuffle(candidates);
    const size_t mark = chosen.size();
    const size_t sig_mark = signatures.size();
    for (const Candidate& candidate : candidates) {
      if (static_cast<int>(chosen.size() - mark) >= options.max_classes_per_script) break;
      ChosenClass c;
      c.script = static_cast<int>(scripts.size());
      c.cp = candidate.cp;
      for (int f : candidate.fonts) {
        if (selector.Usable(f, candidate.cp)) c.fonts.push_back(f);
      }
      if (c.fonts.empty()) continue;
      // Canonical font: a regular style where there is one.
      std::stable_partition(c.fonts.begin(), c.fonts.end(),
                            [&](int f) { return fonts[f].style == "Regular"; });
      if (!selector.Render(c.fonts[0], c.cp, nullptr, options, nullptr, image)) continue;
      std::vector<float> sig = Signature(image);
      if (sig.empty()) continue;
      bool duplicate = false;
      for (size_t s = 0; s < signatures.size() && !duplicate; s += sig_size) {
        duplicate = Dot(sig, &signatures[s]) > options.max_similarity;
      }
      if (duplicate) continue;
      signatures.insert(signatures.end(), sig.begin(), sig.end());
      chosen.push_back(std::move(c));
    }
    if (static_cast<int>(chosen.size() - mark) < options.min_classes_per_script) {
      chosen.resize(mark);
      signatures.resize(sig_mark);
      continue;
    }
    scripts.push_back(script);
  }
  if (scripts.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "glyphs: no script has ", options.min_classes_per_script, " usable characters under ",
        options.font_dir));
  }
  // Output order: scripts and characters sorted, for readable caches.
  std::vector<int> script_rank(scripts.size());
  {
    std::vector<int> idx(scripts.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int>(i);
    std::sort(idx.begin(), idx.end(), [&](int a, int b) { return scripts[a] < scripts[b]; });
    for (size_t r = 0; r < idx.size(); ++r) script_rank[idx[r]] = static_cast<int>(r);
  }
  std::sort(chosen.begin(), chosen.end(), [&](const ChosenClass& a, const ChosenClass& b) {
    return std::make_pair(script_rank[a.script], a.cp) < std::make_pair(script_rank[b.script], b.cp);
  });
  std::vector<int> used(fonts.size(), 0);
  for (const auto& c : chosen) {
    for (int f : c.fonts) used[f] = 1;
  }
  report->fonts = static_cast<int>(std::count(used.begin(), used.end(), 1));
  report->select_seconds = Seconds(start);

  Dataset data;
  std::vector<std::string> sorted_scripts = scripts;
  std::sort(sorted_scripts.begin(), sorted_scripts.end());
  for (const auto& s : sorted_scripts) data.AddGroup(s);
  for (const auto& c : chosen) {
    data.AddClass(absl::StrFormat("%s/U+%04X", scripts[c.script], c.cp), script_rank[c.script]);
  }
  const int num_classes = static_cast<int>(chosen.size());
  data.labels.resize(static_cast<size_t>(num_classes) * options.instances);
  data.pixels.resize(data.labels.size() * kImagePixels);

  // Render: classes are handed out to threads; each instance draws from its
  // own seed, so the result does not depend on the thread count.
  const auto render_start = std::chrono::steady_clock::now();
  int threads = options.threads > 0 ? options.threads
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min(threads, num_classes);
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::mutex error_mu;
  absl::Status error;
  auto work = [&](bool report_progress) {
    Renderer renderer(fonts);
    absl::Status init = renderer.Init();
    if (!init.ok()) {
      std::lock_guard<std::mutex> lock(error_mu);
      error = init;
      return;
    }
    for (int k = next++; k < num_classes; k = next++) {
      const ChosenClass& c = chosen[k];
      for (int i = 0; i < options.instances; ++i) {
        const int64_t index = static_cast<int64_t>(k) * options.instances + i;
        Rng rng(MixSeed(options.seed, {c.cp, Fnv1a(scripts[c.script]), static_cast<uint64_t>(i)}));
        const int font = c.fonts[rng.Below(c.fonts.size())];
        const Distortion d = DrawDistortion(options, rng);
        uint8_t* out = &data.pixels[index * kImagePixels];
        if (!renderer.Render(font, c.cp, &d, options, &rng, out) &&
            !renderer.Render(c.fonts[0], c.cp, &d, options, &rng, out)) {
          std::lock_guard<std::mutex> lock(error_mu);
          error = absl::InternalError(absl::StrFormat("glyphs: cannot render U+%04X with %s", c.cp,
                                                      fonts[c.fonts[0]].path));
          return;
        }
        data.labels[index] = k;
      }
      const int finished = ++done;
      if (report_progress && progress) progress(finished, num_classes);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, false);
  work(true);
  for (auto& t : pool) t.join();
  if (!error.ok()) return error;
  if (progress) progress(num_classes, num_classes);

  report->scripts = data.num_groups();
  report->classes = data.num_classes();
  report->images = data.size();
  report->render_seconds = Seconds(render_start);
  return data;
}

}  // namespace adaptd::train
