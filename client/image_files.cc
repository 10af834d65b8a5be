#include "client/image_files.h"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace adaptd::client {
namespace {

namespace fs = std::filesystem;

// `ec` comes from the OS, so its value is an errno.
absl::Status FileError(const fs::path& path, const std::error_code& ec) {
  return absl::Status(absl::ErrnoToStatusCode(ec.value()),
                      absl::StrCat(path.string(), ": ", ec.message()));
}

// Entry tests that never throw: an entry that cannot be stat'ed is skipped.
bool IsDirectory(const fs::directory_entry& entry) {
  std::error_code ignored;
  return entry.is_directory(ignored);
}
bool IsRegularFile(const fs::directory_entry& entry) {
  std::error_code ignored;
  return entry.is_regular_file(ignored);
}

// Dot files are editor and OS droppings (e.g. macOS "._x.png"), never data.
bool IsHidden(const fs::path& path) {
  return absl::StartsWith(path.filename().string(), ".");
}

// Every image file under `dir`, recursively, sorted.
absl::StatusOr<std::vector<fs::path>> ImagesUnder(const fs::path& dir) {
  std::vector<fs::path> images;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const fs::path& path = it->path();
    if (IsHidden(path)) {
      if (IsDirectory(*it)) it.disable_recursion_pending();
      continue;
    }
    if (HasImageExtension(path.string()) && IsRegularFile(*it)) {
      images.push_back(path);
    }
  }
  if (ec) return FileError(dir, ec);
  std::sort(images.begin(), images.end());
  return images;
}

}  // namespace

bool HasImageExtension(absl::string_view path) {
  std::string lower = absl::AsciiStrToLower(path);
  return absl::EndsWith(lower, ".png") || absl::EndsWith(lower, ".jpg") ||
         absl::EndsWith(lower, ".jpeg");
}

absl::StatusOr<std::vector<ImageFile>> ListSupportSet(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (ec) return FileError(dir, ec);
    return absl::InvalidArgumentError(absl::StrCat(dir, ": not a directory"));
  }
  std::vector<fs::path> classes;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (IsDirectory(*it) && !IsHidden(it->path())) {
      classes.push_back(it->path());
    }
  }
  if (ec) return FileError(dir, ec);
  if (classes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir,
        ": no class folders; expected one sub-folder of images per label"));
  }
  std::sort(classes.begin(), classes.end());

  std::vector<ImageFile> support;
  for (const fs::path& class_dir : classes) {
    absl::StatusOr<std::vector<fs::path>> images = ImagesUnder(class_dir);
    if (!images.ok()) return images.status();
    if (images->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(class_dir.string(), ": no PNG or JPEG files"));
    }
    for (const fs::path& image : *images) {
      support.push_back({image.string(), class_dir.filename().string()});
    }
  }
  return support;
}

absl::StatusOr<std::vector<ImageFile>> ListQueryFiles(
    const std::vector<std::string>& paths) {
  std::vector<ImageFile> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    fs::file_status status = fs::status(path, ec);
    if (ec) return FileError(path, ec);
    if (!fs::is_directory(status)) {
      files.push_back({path, ""});
      continue;
    }
    absl::StatusOr<std::vector<fs::path>> images = ImagesUnder(path);
    if (!images.ok()) return images.status();
    if (images->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": no PNG or JPEG files"));
    }
    for (const fs::path& image : *images) {
      files.push_back(
          {image.string(), image.parent_path().filename().string()});
    }
  }
  return files;
}

}  // namespace adaptd::client
