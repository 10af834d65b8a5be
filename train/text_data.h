// Text sets for adapt-train, as users bring them: a TSV of
// `label<TAB>text` lines, or a folder of `<label>/*.txt` files (one text
// per file). A label "group/class" puts the class in a group (the part
// before the last '/'), so that a split by group keeps related classes
// together; a label without '/' is its own group. The result is a Dataset
// of modality kText, split by group as SplitOptions says (all meta-train
// with fewer than 3 groups).
//
//   ASSIGN_OR_RETURN(Dataset intents, LoadTextTsv("intents.tsv", {}));
//
// No LibTorch. Thread-safe.
#ifndef ADAPTD_TRAIN_TEXT_DATA_H_
#define ADAPTD_TRAIN_TEXT_DATA_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "train/dataset.h"
#include "train/splits.h"

namespace adaptd::train {

struct TextLoadOptions {
  SplitOptions split;
  // At most this many texts per class (the first ones); 0 for all.
  int max_per_class = 0;
  // Longer texts are refused, naming the line or file.
  int64_t max_text_bytes = 16384;
};

// INVALID_ARGUMENT naming the file and line for a line without a tab, an
// empty label or text, invalid UTF-8 or a text over max_text_bytes;
// NOT_FOUND for a missing file or one without texts. Blank lines are
// skipped; a trailing '\r' is dropped.
absl::StatusOr<Dataset> LoadTextTsv(const std::string& path, const TextLoadOptions& options);

// root/<label>/*.txt, sorted; each file's trimmed contents are one text.
absl::StatusOr<Dataset> LoadTextFolders(const std::string& root, const TextLoadOptions& options);

// A text set of (class name, text) pairs, for sets read from elsewhere
// (package descriptions, fortune files): each class its own group, classes
// sorted by name, each class's distinct texts in the order given. A text
// found under two classes is left out (boilerplate), as is one that is not
// valid UTF-8 or is over max_text_bytes, and so is a class left with fewer
// than min_texts texts.
Dataset DistinctTextsByClass(const std::vector<std::pair<std::string, std::string>>& labelled,
                             int min_texts, int64_t max_text_bytes = 16384);

// Writes `data` (a text set) as `label<TAB>text` lines, labels spelt
// "group/class" where the group is not the class itself; tabs and line
// breaks inside a text become spaces.
absl::Status WriteTextTsv(const Dataset& data, const std::string& path);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_TEXT_DATA_H_
