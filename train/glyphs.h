// An Omniglot-like data set rendered with FreeType from the installed fonts.
//
// Classes are characters; groups ("scripts") are writing systems, taken
// from the font family names ("Noto Sans Devanagari" and "Noto Serif
// Devanagari" both give "Devanagari") and, for code points in blocks that
// many fonts share (Latin, Greek, Cyrillic, arrows, math operators, ...),
// from the Unicode block. Every code point belongs to one script only.
// Characters are those a font really draws (a non-empty outline of a useful
// size; combining marks, spaces and dots are left out); near-duplicates
// (l/I/|, Latin A / Greek Alpha) are dropped by comparing canonical renders,
// so no two classes look alike, within or across scripts.
//
// Each instance picks one of the fonts that has the character (styles,
// weights and families of the same script), then applies a random stroke
// weight, affine (rotation, scale, aspect, shear, shift) and elastic
// distortion, and is rendered 4x supersampled into 28x28, ink bright on
// black. The result is a pure function of the options and the installed
// fonts; rendering runs on several threads.
//
// Example:
//   GlyphOptions options;
//   options.max_scripts = 5;  // a small set
//   ASSIGN_OR_RETURN(Dataset glyphs, RenderGlyphs(options, nullptr));
#ifndef ADAPTD_TRAIN_GLYPHS_H_
#define ADAPTD_TRAIN_GLYPHS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "train/dataset.h"

namespace adaptd::train {

struct GlyphOptions {
  // Folder searched recursively for .ttf / .otf / .ttc files.
  std::string font_dir = "/usr/share/fonts";
  // Images rendered per character.
  int instances = 20;
  // Characters kept per script (a seeded random choice when there are
  // more), and the fewest for a script to be used at all.
  int max_classes_per_script = 40;
  int min_classes_per_script = 14;
  // At most this many scripts (a seeded random choice); 0 for all.
  int max_scripts = 0;
  uint64_t seed = 1;
  // Rendering threads; 0 for one per core.
  int threads = 0;
  // Two characters whose canonical renders correlate above this are
  // considered the same; the later one is dropped.
  double max_similarity = 0.92;

  // Distortions, in pixels of the 28x28 output where a length.
  double max_rotation_degrees = 12;
  double max_shear = 0.2;
  double scale_jitter = 0.12;   // log-uniform in [-j, +j/2]
  double aspect_jitter = 0.08;  // x and y scales differ by up to this
  double max_shift = 1.5;
  // Stroke weight change, pixels added to the stroke width: [min, max].
  double min_embolden = -0.3;
  double max_embolden = 0.9;
  // Elastic distortion: a smooth random displacement field (Gaussian
  // smoothed noise of width sigma) with this RMS displacement, scaled per
  // instance by a factor in [0.5, 1.5].
  double elastic_rms = 0.6;
  double elastic_sigma = 3.0;

  // The images' shape. Glyphs are rendered at 28x28 and resized to it with
  // adaptd's resize; in RGB each image gets its own random ink and
  // background colours.
  ImageShape shape;
};

struct GlyphReport {
  int fonts = 0;             // Font faces found and used.
  int candidate_scripts = 0;
  int scripts = 0;
  int classes = 0;
  int64_t images = 0;
  double select_seconds = 0;
  double render_seconds = 0;
};

// Renders the set: groups are scripts, classes are named "<script>/U+XXXX".
// `progress`, if set, is called from one thread now and then with
// (classes done, classes total). NOT_FOUND when no usable font is found;
// FAILED_PRECONDITION when fewer than 1 script qualifies.
absl::StatusOr<Dataset> RenderGlyphs(const GlyphOptions& options, GlyphReport* report,
                                     const std::function<void(int, int)>& progress = {});

// A text that changes whenever the options or the installed fonts change;
// stored as the cache's meta text to tell whether a cache is current.
absl::StatusOr<std::string> GlyphFingerprint(const GlyphOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_GLYPHS_H_
