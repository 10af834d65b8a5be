// An evaluation-only text set from fortune(6)'s files (Debian's `fortunes`
// and `fortunes-min`): one class per file ("computers", "food", "startrek"),
// whose texts are the file's entries (separated by lines holding "%"). It is
// never used for training: like the package descriptions it measures how a
// text model trained on WordNet's glosses carries over to text of another
// kind, here quotations, jokes and aphorisms on many topics.
//
// An entry's lines are joined by single spaces (control characters, such as
// the backspaces of overstruck text, count as spaces). Files whose names hold
// a '.' (the .dat indexes, the .u8 links) and subfolders (the offensive set)
// are not read. An entry found in two files, repeats within a file, entries
// that are not valid UTF-8 or are over 16 KiB, and files left with fewer
// than min_texts entries are left out. Deterministic for the folder: classes
// sorted by name, texts in file order.
//
//   ASSIGN_OR_RETURN(Dataset fortunes, ReadFortunes({}));
//
// No LibTorch. Thread-safe.
#ifndef ADAPTD_TRAIN_FORTUNES_H_
#define ADAPTD_TRAIN_FORTUNES_H_

#include <string>

#include "absl/status/statusor.h"
#include "train/dataset.h"

namespace adaptd::train {

inline constexpr char kFortunesDir[] = "/usr/share/games/fortunes";

struct FortunesOptions {
  std::string dir = kFortunesDir;
  // Smallest class kept, in entries.
  int min_texts = 10;
};

// NOT_FOUND for a missing folder, or when no file keeps min_texts entries;
// INVALID_ARGUMENT for min_texts < 1.
absl::StatusOr<Dataset> ReadFortunes(const FortunesOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_FORTUNES_H_
