// Exemplar classes: every picture (a clip-art drawing, an icon, an emoji)
// becomes one class of randomly warped renders of itself, at any size, grey
// or in colour. The sources list pictures and decode them (clipart.h,
// emoji.h); this renders them and splits the classes by group.
//
// Grey renders are the picture's filled shape ("ink": opacity times
// darkness-weighted brightness), bright on dark as in the glyph set. Colour
// renders keep the picture's colours, composited on a random background
// colour per render, so that a class is the object and not its surround.
//
// Deterministic for a seed and the pictures. No LibTorch.
#ifndef ADAPTD_TRAIN_EXEMPLARS_H_
#define ADAPTD_TRAIN_EXEMPLARS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "train/dataset.h"
#include "train/splits.h"

namespace adaptd::train {

// A decoded picture: straight (not premultiplied) RGBA, row-major.
struct RgbaImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // width * height * 4
};

// One class to be: a unique name, its group (category) and how to decode it
// (an error or an empty image skips it). `decode` is called from several
// threads at once.
struct Picture {
  std::string name;
  std::string group;
  std::function<absl::StatusOr<RgbaImage>()> decode;
};

struct ExemplarOptions {
  // The renders' shape: 1 channel (ink, bright on dark) or 3 (colour on a
  // random background), any size.
  ImageShape shape;
  // The split of the groups. With fewer than 3 groups everything is
  // meta-train.
  SplitOptions split;
  // Renders per picture.
  int instances = 10;
  uint64_t seed = 1;
  // Decoding and rendering threads; 0 for one per core.
  int threads = 0;
  // Distortions. Lengths are in pixels of a 28-pixel side and scale with the
  // shorter side of `shape`.
  double max_rotation_degrees = 15;
  double max_shear = 0.2;
  double scale_jitter = 0.15;
  double max_shift = 2;
  // The picture's longer side fills this much before the jitter.
  double fit_pixels = 22;
};

// Renders every picture `options.instances` times and splits the classes by
// group, each group weighing the same however many pictures it has.
// Pictures that fail to decode or are empty are counted in *skipped (may be
// null). NOT_FOUND when none is left.
absl::StatusOr<Dataset> RenderExemplars(const std::vector<Picture>& pictures,
                                        const ExemplarOptions& options, int* skipped,
                                        const std::function<void(int done, int total)>& progress);

// The options, for a cache's up-to-date check.
std::string ExemplarFingerprint(const ExemplarOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_EXEMPLARS_H_
