// Clip-art and icon exemplar classes (exemplars.h): every PNG under one or
// more folders becomes one class of randomly warped renders. openclipart-png's
// /usr/share/openclipart/png holds 8,121 drawings in 22 topic folders and
// about 100 subfolders; an icon theme's size folder
// (/usr/share/icons/oxygen/base/48x48) holds its contexts (actions, apps,
// devices, ...).
//
// Classes are grouped by category, the folder up to `category_depth` below
// its root ("animals/birds"; the same folder name under several roots is
// one category), and the categories are split into meta-train, meta-val
// and meta-test, each category weighing the same. GroupsAsClasses
// (dataset.h) turns the exemplars into category tasks ("which of these five
// kinds of thing is this drawing"), a cross-domain validation set for a
// glyph-trained backbone: different drawings of a kind share a category,
// as different garments share a Fashion-MNIST class.
//
//   ClipartOptions options;
//   ASSIGN_OR_RETURN(Dataset clipart, RenderClipart(options, nullptr, nullptr));
//
// Deterministic for a seed and the folders' contents. No LibTorch.
#ifndef ADAPTD_TRAIN_CLIPART_H_
#define ADAPTD_TRAIN_CLIPART_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "train/dataset.h"
#include "train/exemplars.h"

namespace adaptd::train {

struct ClipartOptions {
  // Searched recursively for .png files; several roots comma-separated.
  std::string root = "/usr/share/openclipart/png";
  // A drawing's category (its group): this many folders below its root, or
  // fewer where the drawing lies higher up.
  int category_depth = 2;
  // At most this many drawings (a seeded random choice); 0 for all.
  int max_images = 0;
  // The renders: shape, instances, distortions, the split of the categories.
  ExemplarOptions render;
};

// NOT_FOUND when the roots hold no PNG. Drawings that fail to decode or are
// empty are skipped and counted in *skipped (may be null).
absl::StatusOr<Dataset> RenderClipart(const ClipartOptions& options, int* skipped,
                                      const std::function<void(int done, int total)>& progress);

// Options and the folder's listing, for the cache's up-to-date check.
std::string ClipartFingerprint(const ClipartOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_CLIPART_H_
