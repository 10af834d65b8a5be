// Reading whole files, and writing them so that a crash leaves either the
// old file or the new one, never a torn one. Errors are statuses whose code
// follows errno (NOT_FOUND for a missing file, RESOURCE_EXHAUSTED for a full
// disk) and whose message names the operation and the path. Thread-safe
// (for distinct paths).
#ifndef ADAPTD_SERVER_COMMON_FILE_UTIL_H_
#define ADAPTD_SERVER_COMMON_FILE_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace adaptd {

// The bytes of the file at `path`.
absl::StatusOr<std::string> ReadFile(const std::string& path);

struct AtomicWriteOptions {
  // The temporary file is `path` followed by this, in the same folder.
  std::string temp_suffix = ".tmp";
  // Permission bits of a new file.
  int mode = 0644;
  // Create missing parent folders first.
  bool create_parents = true;
};

// Writes, fsyncs and closes a new file at `path` (truncating one that is
// there). On failure the file may be left behind.
absl::Status WriteAndSync(const std::string& path, absl::string_view contents, int mode = 0644);

// Writes `contents` to a temporary file beside `path`, fsyncs it and renames
// it over `path`. On failure the temporary file is removed and `path` is
// untouched. The folder itself is not fsynced: callers that must survive a
// power cut do that themselves.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 const AtomicWriteOptions& options = {});

}  // namespace adaptd

#endif  // ADAPTD_SERVER_COMMON_FILE_UTIL_H_
