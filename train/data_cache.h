// The binary cache adapt-train keeps data sets in (data/glyphs.bin, ...):
// a header with free provenance text, the groups with their splits, the
// classes, the labels and the pixels, and a CRC-32 over all of it. Written
// atomically, so an interrupted `adapt-train data ...` never leaves a torn
// cache. No LibTorch. Thread-safe (for distinct paths).
//
//   RETURN_IF_ERROR(SaveDataset(data, "glyphs seed=1 ...", "data/glyphs.bin"));
//   ASSIGN_OR_RETURN(Dataset categories, LoadDataSpec("data/clipart.bin:groups"));
#ifndef ADAPTD_TRAIN_DATA_CACHE_H_
#define ADAPTD_TRAIN_DATA_CACHE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "train/dataset.h"

namespace adaptd::train {

// `meta` is free text (provenance: generator, options, seed); comparing it
// with ReadDatasetMeta tells whether a cache is up to date.
absl::Status SaveDataset(const Dataset& data, const std::string& meta, const std::string& path);
// Reads a cache written by SaveDataset; checks its magic, version, sizes and
// CRC. `meta` may be null.
absl::StatusOr<Dataset> LoadDataset(const std::string& path, std::string* meta = nullptr);
// A data set as users name one: a cache, a text set (a .tsv of
// label<TAB>text, or a folder of <label>/*.txt, split by group with the
// default SplitOptions); with ":groups" after it, its groups as classes
// (GroupsAsClasses); with ":all" last, without its split (every class, as
// for an evaluation-only set). `meta` (may be null) gets the cache's
// provenance text, or a text set's path.
absl::StatusOr<Dataset> LoadDataSpec(absl::string_view spec, std::string* meta = nullptr);
// Only the header's meta text, without reading the images.
absl::StatusOr<std::string> ReadDatasetMeta(const std::string& path);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_DATA_CACHE_H_
