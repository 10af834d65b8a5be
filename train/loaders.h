// Readers for the image sets users bring: Omniglot's layout, class folders
// of PNG/JPEG files, and IDX arrays (MNIST's format) for Fashion-MNIST. Each
// gives a Dataset of 28x28 gray images, ink bright. No LibTorch.
// Thread-safe.
#ifndef ADAPTD_TRAIN_LOADERS_H_
#define ADAPTD_TRAIN_LOADERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/engine/base/types.h"
#include "train/dataset.h"

namespace adaptd::train {

struct ImageLoadOptions {
  enum class Invert { kNever, kAlways, kAuto };
  // kAuto inverts an image whose border is mostly bright (dark ink on white
  // paper, as Omniglot's PNGs are) so that ink ends up bright.
  Invert invert = Invert::kNever;
  // At most this many images per class; 0 for all.
  int max_per_class = 0;
  // The images' colour mode, size and resizing, as a model's preprocessing
  // (mean and std are not applied: caches hold 8-bit pixels). Default: 28x28
  // grey, stretched.
  engine::Preprocessing image = DefaultImage();

  static engine::Preprocessing DefaultImage() {
    engine::Preprocessing pre;
    pre.channels = 1;
    pre.resize_height = kImageSide;
    pre.resize_width = kImageSide;
    return pre;
  }
};

// The shape of the images `options` makes.
ImageShape ShapeOf(const ImageLoadOptions& options);

// Decodes a PNG or JPEG held in memory into the CHW pixels `options.image`
// asks for, with adaptd's own preprocessing (so what the server feeds a
// model is what it was trained on), applying `options.invert`.
absl::StatusOr<std::vector<uint8_t>> DecodeForCache(const std::string& bytes,
                                                    const ImageLoadOptions& options);

// `data` with its images in `shape`: grey repeated into RGB (or RGB to
// PIL's luma), stretched to the new size with adaptd's resize. For
// evaluating a model of another input shape on a set (Fashion-MNIST as RGB).
Dataset ReshapeImages(Dataset data, const ImageShape& shape);

// Omniglot's layout: root/<alphabet>/<character>/*.png. Groups are the
// alphabets; classes are named "<alphabet>/<character>". Sorted by name.
// Use invert = kAuto (the default here) for Omniglot's white-paper images.
absl::StatusOr<Dataset> LoadOmniglot(const std::string& root,
                                     ImageLoadOptions options = {ImageLoadOptions::Invert::kAuto});

// Class folders (mini-ImageNet and the like): root/<class>/*.{png,jpg,jpeg}.
// Each class is its own group, so a split by group is a split by class.
absl::StatusOr<Dataset> LoadClassFolders(const std::string& root,
                                         ImageLoadOptions options = {});

// One IDX array (MNIST's format), gzip-compressed or not.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // Unsigned-byte arrays only.
};
absl::StatusOr<IdxArray> ReadIdx(const std::string& path);

// Fashion-MNIST's class names, by label.
const std::vector<std::string>& FashionMnistClassNames();
inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// Fashion-MNIST's train ("train-*") or test ("t10k-*") split from `dir`.
// One group, "fashion-mnist". For cross-domain evaluation and demos only:
// never train the default model on it.
absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir, bool test_split);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_LOADERS_H_
