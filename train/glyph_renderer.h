// Rendering one glyph of the glyph set (glyphs.h) with FreeType: the
// outline, emboldened and transformed by a random distortion, drawn 4x
// supersampled on a canvas and averaged into 28x28 through a smooth elastic
// displacement field. Ink bright on black. No LibTorch. A Renderer is not
// thread-safe: each rendering thread owns one.
#ifndef ADAPTD_TRAIN_GLYPH_RENDERER_H_
#define ADAPTD_TRAIN_GLYPH_RENDERER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "train/glyph_fonts.h"
#include "train/glyphs.h"
#include "train/random.h"

namespace adaptd::train {

// Bump when rendering changes, so that caches made by older code are redone
// (GlyphFingerprint).
inline constexpr int kGlyphRendererVersion = 1;

// One instance's distortion, in pixels of the 28x28 output where a length.
struct Distortion {
  double embolden = 0;          // Output pixels.
  double rotation = 0;          // Radians.
  double shear = 0;
  double scale = 1, aspect = 0;
  double shift_x = 0, shift_y = 0;
  double elastic = 0;           // RMS displacement; 0 for none.
};

// Draws a distortion within the options' ranges.
Distortion DrawDistortion(const GlyphOptions& o, Rng& rng);

// One thread's FreeType state: a library and the faces it has opened.
class Renderer {
 public:
  // `fonts` must outlive the renderer; faces are opened on first use.
  explicit Renderer(const std::vector<FontFace>& fonts);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // Call once before the others. INTERNAL when FreeType cannot start.
  absl::Status Init();

  // Whether `font` draws `cp` as a non-empty outline of a useful size.
  bool Usable(int font, uint32_t cp);

  // Renders `cp` in `font` into `out` (kImagePixels). `d` null: the
  // canonical, undistorted render. `rng` draws the elastic field (none when
  // null). False when the glyph cannot be drawn.
  bool Render(int font, uint32_t cp, const Distortion* d, const GlyphOptions& options, Rng* rng,
              uint8_t* out);

 private:
  FT_Face Face(int font);
  FT_Outline* Load(int font, uint32_t cp);
  static void Transform(FT_Outline* outline, double a, double b, double c, double e);
  float Canvas(double x, double y) const;
  void Downsample(uint8_t* out) const;

  const std::vector<FontFace>& fonts_;
  FtLibrary ft_;
  std::vector<FT_Face> faces_;  // Per font; null until opened.
  std::vector<uint8_t> canvas_;
  std::vector<float> fx_, fy_;  // The elastic field of the current render.
};

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_GLYPH_RENDERER_H_
