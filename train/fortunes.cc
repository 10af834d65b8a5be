#include "train/fortunes.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "train/text_data.h"

namespace adaptd::train {
namespace {

namespace fs = std::filesystem;

// The entries of one fortune file, each one line of words.
std::vector<std::string> Entries(const std::string& contents) {
  std::vector<std::string> out;
  std::string current;
  const auto flush = [&] {
    if (!current.empty()) out.push_back(std::move(current));
    current.clear();
  };
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    if (absl::StripAsciiWhitespace(line) == "%") {
      flush();
      continue;
    }
    std::string words(line);
    std::replace_if(
        words.begin(), words.end(),
        [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }, ' ');
    for (absl::string_view word : absl::StrSplit(words, ' ', absl::SkipEmpty())) {
      if (!current.empty()) current += ' ';
      current.append(word.data(), word.size());
    }
  }
  flush();
  return out;
}

}  // namespace

absl::StatusOr<Dataset> ReadFortunes(const FortunesOptions& options) {
  if (options.min_texts < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_texts: must be 1 or more, got ", options.min_texts));
  }
  std::error_code ec;
  if (!fs::is_directory(options.dir, ec)) {
    return absl::NotFoundError(absl::StrCat(
        options.dir, ": no such folder (Debian's fortunes and fortunes-min packages fill it)"));
  }
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(options.dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_symlink() || !e.is_regular_file() || name.find('.') != std::string::npos) continue;
    files.push_back(e.path());
  }
  if (ec) return absl::NotFoundError(absl::StrCat(options.dir, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  std::vector<std::pair<std::string, std::string>> entries;
  for (const fs::path& file : files) {
    ASSIGN_OR_RETURN(const std::string contents, ReadFile(file.string()));
    for (std::string& text : Entries(contents)) {
      entries.emplace_back(file.filename().string(), std::move(text));
    }
  }
  Dataset data = DistinctTextsByClass(entries, options.min_texts);
  if (data.num_classes() == 0) {
    return absl::NotFoundError(absl::StrCat(options.dir, ": no fortune file has ",
                                            options.min_texts, " or more entries"));
  }
  return data;
}

}  // namespace adaptd::train
