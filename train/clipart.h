// Clip-art exemplar classes, a second domain beyond strokes for training
// (make models meta-trains on tasks from it): every PNG under a folder
// (openclipart-png's /usr/share/openclipart/png: 8,121 drawings in 22 topic
// folders) becomes one class of randomly warped 28x28 renders of its filled
// shape, object bright on dark as in the glyph set. Classes are grouped by
// top-level folder and all assigned to the meta-train split: clip art is
// only ever training data, never evaluated on.
//
//   ClipartOptions options;
//   ASSIGN_OR_RETURN(Dataset clipart, RenderClipart(options, nullptr));
//
// Deterministic for a seed and a folder's contents. No LibTorch.
#ifndef ADAPTD_TRAIN_CLIPART_H_
#define ADAPTD_TRAIN_CLIPART_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "train/data.h"

namespace adaptd::train {

struct ClipartOptions {
  // Searched recursively for .png files; group = first folder below it.
  std::string root = "/usr/share/openclipart/png";
  // Renders per drawing.
  int instances = 10;
  // At most this many drawings (a seeded random choice); 0 for all.
  int max_images = 0;
  uint64_t seed = 1;
  // Decoding threads; 0 for one per core.
  int threads = 0;
  // Distortions, in pixels of the 28x28 output where a length.
  double max_rotation_degrees = 15;
  double max_shear = 0.2;
  double scale_jitter = 0.15;
  double max_shift = 2;
  // The drawing's longer side fills this many pixels before the jitter.
  double fit_pixels = 22;
};

// NOT_FOUND when `root` holds no PNG. Drawings that fail to decode or are
// empty are skipped and counted in *skipped (may be null).
absl::StatusOr<Dataset> RenderClipart(const ClipartOptions& options, int* skipped,
                                      const std::function<void(int done, int total)>& progress);

// Options and the folder's listing, for the cache's up-to-date check.
std::string ClipartFingerprint(const ClipartOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_CLIPART_H_
