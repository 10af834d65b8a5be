// Clip-art exemplar classes, a second domain beyond strokes (make models
// meta-trains on tasks from it): every PNG under a folder (openclipart-png's
// /usr/share/openclipart/png: 8,121 drawings in 22 topic folders and about
// 100 subfolders) becomes one class of randomly warped 28x28 renders of its
// filled shape, object bright on dark as in the glyph set.
//
// Classes are grouped by category, the folder up to `category_depth` below
// the root ("animals/birds"), and the categories are split into meta-train,
// meta-val and meta-test, each category weighing the same. GroupsAsClasses
// (dataset.h) turns the exemplars into category tasks ("which of these five
// kinds of thing is this drawing"), a cross-domain validation set for a
// glyph-trained backbone: different drawings of a kind share a category,
// as different garments share a Fashion-MNIST class.
//
//   ClipartOptions options;
//   ASSIGN_OR_RETURN(Dataset clipart, RenderClipart(options, nullptr, nullptr));
//
// Deterministic for a seed and a folder's contents. No LibTorch.
#ifndef ADAPTD_TRAIN_CLIPART_H_
#define ADAPTD_TRAIN_CLIPART_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "train/dataset.h"
#include "train/splits.h"

namespace adaptd::train {

struct ClipartOptions {
  // Searched recursively for .png files.
  std::string root = "/usr/share/openclipart/png";
  // A drawing's category (its group): this many folders below the root, or
  // fewer where the drawing lies higher up.
  int category_depth = 2;
  // The split of the categories. With fewer than 3 categories everything is
  // meta-train.
  SplitOptions split;
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
