#ifndef ADAPTD_CLIENT_IMAGE_FILES_H_
#define ADAPTD_CLIENT_IMAGE_FILES_H_

// Finds the PNG/JPEG files that adaptctl sends, in a deterministic (sorted)
// order. Functions only; no state.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace adaptd::client {

struct ImageFile {
  std::string path;
  // The class label: the name of the folder holding the file. Empty for a
  // file named on the command line.
  std::string label;
};

// True for names ending in .png, .jpg or .jpeg, in any case.
bool HasImageExtension(absl::string_view path);

// The support set in `dir`: one sub-folder per class, named after the label,
// holding image files (searched recursively). Files directly in `dir` are
// ignored. Fails if `dir` is not a directory, has no class folders, or a
// class folder has no images.
absl::StatusOr<std::vector<ImageFile>> ListSupportSet(const std::string& dir);

// The query files for `paths`, in argument order. A file is taken as it is,
// with no label. A directory contributes every image file under it, each
// labelled with its parent folder's name. Fails on a missing path or a
// directory with no images.
absl::StatusOr<std::vector<ImageFile>> ListQueryFiles(
    const std::vector<std::string>& paths);

}  // namespace adaptd::client

#endif  // ADAPTD_CLIENT_IMAGE_FILES_H_
