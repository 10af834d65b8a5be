// In-memory data sets for adapt-train: 28x28 grayscale images with class ids,
// class names and the group (alphabet, script) each class belongs to; the
// binary cache they are stored in; splits by group; and readers for the
// layouts users bring (Omniglot, class folders, IDX / Fashion-MNIST).
//
// Pixels follow MNIST's convention: ink or object bright, background dark.
// A model's preprocessing scales them to [0,1] and then applies mean/std, as
// adaptd does for UINT8 tensors and images.
//
// No LibTorch here. Plain values; not thread-safe to mutate, safe to read
// from many threads.
#ifndef ADAPTD_TRAIN_DATA_H_
#define ADAPTD_TRAIN_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace adaptd::train {

inline constexpr int kImageSide = 28;
inline constexpr int kImagePixels = kImageSide * kImageSide;

enum class Split : uint8_t { kUnassigned = 0, kTrain = 1, kVal = 2, kTest = 3 };
const char* SplitName(Split split);  // "unassigned", "train", "val", "test"

struct Dataset {
  std::vector<uint8_t> pixels;           // size() * kImagePixels, row-major.
  std::vector<int32_t> labels;           // Per image: class id.
  std::vector<std::string> class_names;  // Per class; unique.
  std::vector<int32_t> class_groups;     // Per class: index into group_names.
  std::vector<std::string> group_names;  // Alphabets or scripts; unique.
  // Per group: which split it belongs to. Empty, or one entry per group.
  std::vector<Split> group_splits;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  int num_groups() const { return static_cast<int>(group_names.size()); }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * kImagePixels; }

  // Appends a group / class and returns its id. REQUIRES: `group` valid.
  int32_t AddGroup(std::string name);
  int32_t AddClass(std::string name, int32_t group);
  // Appends one image of kImagePixels bytes. REQUIRES: `label` valid.
  void AddImage(int32_t label, const uint8_t* image);

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

struct SplitOptions {
  // Fractions of the classes, approximately, since whole groups are assigned;
  // the rest goes to test.
  double train_fraction = 0.6;
  double val_fraction = 0.15;
  uint64_t seed = 1;
};

// Assigns every group wholly to train, val or test, Omniglot style, so that
// val and test classes come from groups never seen in training. Deterministic
// in the seed. INVALID_ARGUMENT when there are fewer than 3 groups or the
// fractions leave a split empty.
absl::Status AssignSplitsByGroup(Dataset* data, const SplitOptions& options);

// Appends `part`'s groups, classes and images to `merged`, renumbered after
// its own. Split assignments are kept when both have them, else dropped.
void AppendDataset(Dataset part, Dataset* merged);

// The classes of one split. REQUIRES: group_splits assigned.
Dataset SplitClasses(const Dataset& data, Split split);

// ---- Binary cache -------------------------------------------------------

// `meta` is free text (provenance: generator, options, seed); `Fingerprint`
// compares it to decide whether a cache is up to date.
absl::Status SaveDataset(const Dataset& data, const std::string& meta, const std::string& path);
// Reads a cache written by SaveDataset; checks its magic, version, sizes and
// CRC. `meta` may be null.
absl::StatusOr<Dataset> LoadDataset(const std::string& path, std::string* meta = nullptr);
// A cache, or with ":groups" after it, its groups as classes
// (GroupsAsClasses). `meta` (may be null) gets the cache's provenance text.
absl::StatusOr<Dataset> LoadDataSpec(absl::string_view spec, std::string* meta = nullptr);
// Only the header's meta text, without reading the images.
absl::StatusOr<std::string> ReadDatasetMeta(const std::string& path);

// ---- Readers ------------------------------------------------------------

struct ImageLoadOptions {
  enum class Invert { kNever, kAlways, kAuto };
  // kAuto inverts an image whose border is mostly bright (dark ink on white
  // paper, as Omniglot's PNGs are) so that ink ends up bright.
  Invert invert = Invert::kNever;
  // At most this many images per class; 0 for all.
  int max_per_class = 0;
};

// Decodes a PNG or JPEG held in memory to 28x28 gray (stretched, as adaptd
// resizes), applying `options.invert`.
absl::StatusOr<std::vector<uint8_t>> DecodeTo28Gray(const std::string& bytes,
                                                    const ImageLoadOptions& options);

// Omniglot's layout: root/<alphabet>/<character>/*.png. Groups are the
// alphabets; classes are named "<alphabet>/<character>". Sorted by name.
// Use invert = kAuto (the default here) for Omniglot's white-paper images.
absl::StatusOr<Dataset> LoadOmniglot(const std::string& root,
                                     ImageLoadOptions options = {ImageLoadOptions::Invert::kAuto, 0});

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

// ---- Writers ------------------------------------------------------------

// Writes one 28x28 gray image as PNG.
absl::Status WritePng(const std::string& path, const uint8_t* image, int width = kImageSide,
                      int height = kImageSide);
// Writes images `offset` .. offset+per_class-1 (in data set order) of each
// named class as out_dir/<class>/<i>.png: a class-folder set, the layout
// adaptctl and LoadClassFolders read. INVALID_ARGUMENT for an unknown class
// or one with too few images.
absl::Status WriteClassPngs(const Dataset& data, const std::vector<std::string>& classes,
                            int per_class, int offset, const std::string& out_dir);
// Writes a grid: one row per class in `classes`, up to `per_row` images of
// each, 1 pixel apart.
absl::Status WriteImageGrid(const std::string& path, const Dataset& data,
                            const std::vector<int32_t>& classes, int per_row);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_DATA_H_
