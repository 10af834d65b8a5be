// In-memory data sets for adapt-train: uint8 images of one shape (28x28
// grey unless made otherwise, CHW), or texts, with class ids,
// class names and the group (alphabet, script) each class belongs to, and
// the operations that pick or merge classes.
//
// Pixels follow MNIST's convention: ink or object bright, background dark.
// A model's preprocessing scales them to [0,1] and then applies mean/std, as
// adaptd does for UINT8 tensors and images.
//
// No LibTorch here. Plain values; not thread-safe to mutate, safe to read
// from many threads.
#ifndef ADAPTD_TRAIN_DATASET_H_
#define ADAPTD_TRAIN_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace adaptd::train {

inline constexpr int kImageSide = 28;
inline constexpr int kImagePixels = kImageSide * kImageSide;

// Which part of an experiment a group serves (splits.h assigns them).
enum class Split : uint8_t { kUnassigned = 0, kTrain = 1, kVal = 2, kTest = 3 };
const char* SplitName(Split split);  // "unassigned", "train", "val", "test"

// The shape of every image of a data set: [channels, height, width].
struct ImageShape {
  int channels = 1;  // 1: grey, 3: RGB.
  int height = kImageSide;
  int width = kImageSide;

  int64_t bytes() const { return int64_t{channels} * height * width; }
  std::vector<int64_t> dims() const { return {channels, height, width}; }
  bool operator==(const ImageShape& o) const {
    return channels == o.channels && height == o.height && width == o.width;
  }
  bool operator!=(const ImageShape& o) const { return !(*this == o); }
};

// "3x84x84 RGB", "1x28x28 grey".
std::string ShapeText(const ImageShape& shape);

// What a data set's items are.
enum class Modality : uint8_t { kImage = 0, kText = 1 };

struct Dataset {
  Modality modality = Modality::kImage;
  ImageShape shape;                      // Images only.
  std::vector<uint8_t> pixels;           // size() * shape.bytes(), CHW per image.
  std::vector<std::string> texts;        // Text sets: one UTF-8 text per item.
  std::vector<int32_t> labels;           // Per image: class id.
  std::vector<std::string> class_names;  // Per class; unique.
  std::vector<int32_t> class_groups;     // Per class: index into group_names.
  std::vector<std::string> group_names;  // Alphabets or scripts; unique.
  // Per group: which split it belongs to. Empty, or one entry per group.
  std::vector<Split> group_splits;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  int num_groups() const { return static_cast<int>(group_names.size()); }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * shape.bytes(); }

  // Appends a group / class and returns its id. REQUIRES: `group` valid.
  int32_t AddGroup(std::string name);
  int32_t AddClass(std::string name, int32_t group);
  // Appends one image of shape.bytes() bytes. REQUIRES: `label` valid.
  void AddImage(int32_t label, const uint8_t* image);
  // Appends one text. REQUIRES: a text set, `label` valid.
  void AddText(int32_t label, std::string text);
  // Appends item `i` of `from` (an image or a text, as this set's modality)
  // under `label`.
  void AddItemOf(const Dataset& from, int64_t i, int32_t label);

  // Image indices of each class, in dataset order.
  std::vector<std::vector<int64_t>> IndicesByClass() const;
  // Checks sizes and ids are consistent; INVALID_ARGUMENT naming what is not.
  absl::Status Validate() const;
};

// The groups as classes: one class per group, named after it, holding the
// first image of each of the group's classes. For exemplar sets whose
// groups are categories (clip art: one class per drawing, grouped by
// folder) this gives category tasks whose support and query never show the
// same drawing. Each class is its own group and keeps its group's split.
// Groups without images are left out.
Dataset GroupsAsClasses(const Dataset& data);

// Keeps `classes` (renumbered 0.. in the order given), their images and
// their groups (renumbered, split assignments kept).
Dataset SelectClasses(const Dataset& data, const std::vector<int32_t>& classes);

// Appends `part`'s groups, classes and images to `merged`, renumbered after
// its own. Split assignments are kept when both have them, else dropped. An
// empty `merged` takes `part`'s modality and image shape; otherwise they
// must be equal (INVALID_ARGUMENT, naming both, and `merged` unchanged).
absl::Status AppendDataset(Dataset part, Dataset* merged);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_DATASET_H_
