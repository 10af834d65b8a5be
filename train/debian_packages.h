// An evaluation-only text set from the package descriptions in dpkg's
// status file: one class per archive section ("libs", "python", "admin";
// "contrib/net" counts as "net"), whose texts are the paragraphs of the
// long descriptions of the section's packages. It is never used for
// training: it measures how a text model trained on WordNet's glosses
// carries over to text of another domain, software descriptions.
//
// A paragraph found in two sections is left out (boilerplate such as "This
// package contains the shared library."), as are repeats within a section
// and paragraphs that are not valid UTF-8 or are over 16 KiB. Each class is
// its own group; sections with fewer than min_texts texts are left out.
// Deterministic for the file: classes sorted by name, texts in file order.
//
//   ASSIGN_OR_RETURN(Dataset packages, ReadDebianPackages({}));
//
// No LibTorch. Thread-safe.
#ifndef ADAPTD_TRAIN_DEBIAN_PACKAGES_H_
#define ADAPTD_TRAIN_DEBIAN_PACKAGES_H_

#include <string>

#include "absl/status/statusor.h"
#include "train/dataset.h"

namespace adaptd::train {

inline constexpr char kDpkgStatusFile[] = "/var/lib/dpkg/status";

struct DebianPackagesOptions {
  // dpkg's database of installed packages (deb822 stanzas).
  std::string status_file = kDpkgStatusFile;
  // Smallest class kept, in texts.
  int min_texts = 10;
};

// NOT_FOUND for a missing file, or when no section keeps min_texts texts;
// INVALID_ARGUMENT, naming the file and line, for a line that is neither
// "Field: value" nor a continuation of one, and for min_texts < 1.
absl::StatusOr<Dataset> ReadDebianPackages(const DebianPackagesOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_DEBIAN_PACKAGES_H_
