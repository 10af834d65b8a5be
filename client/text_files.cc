#include "client/text_files.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/common/file_util.h"

namespace adaptd::client {
namespace {

namespace fs = std::filesystem;

constexpr absl::string_view kStdin = "-";
constexpr absl::string_view kUtf8Bom = "\xEF\xBB\xBF";

// The whole file, or standard input for "-", without a leading UTF-8 BOM
// (editors on some systems add one; it is not text).
absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::string contents;
  if (path == kStdin) {
    contents.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (std::cin.bad()) return absl::DataLossError("reading standard input failed");
  } else {
    absl::StatusOr<std::string> read = ReadFile(path);
    if (!read.ok()) return read.status();
    contents = *std::move(read);
  }
  if (absl::StartsWith(contents, kUtf8Bom)) contents.erase(0, kUtf8Bom.size());
  return contents;
}

std::string DisplayName(const std::string& path) {
  return path == kStdin ? "stdin" : path;
}

// The lines of `contents`: a final newline does not start another line, and
// a '\r' before a newline is dropped.
std::vector<absl::string_view> SplitLines(absl::string_view contents) {
  std::vector<absl::string_view> lines = absl::StrSplit(contents, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (absl::string_view& line : lines) absl::ConsumeSuffix(&line, "\r");
  return lines;
}

bool IsHidden(const fs::path& path) { return absl::StartsWith(path.filename().string(), "."); }

// The non-hidden entries of `dir` that `keep` accepts, sorted.
template <typename Keep>
absl::StatusOr<std::vector<fs::path>> ListDir(const fs::path& dir, Keep keep) {
  std::vector<fs::path> paths;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!IsHidden(it->path()) && keep(*it)) paths.push_back(it->path());
  }
  if (ec) {
    return absl::Status(absl::ErrnoToStatusCode(ec.value()),
                        absl::StrCat(dir.string(), ": ", ec.message()));
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

bool IsTextFile(const fs::directory_entry& entry) {
  std::error_code ignored;
  return entry.is_regular_file(ignored) &&
         absl::EndsWithIgnoreCase(entry.path().filename().string(), ".txt");
}

bool IsDirectoryEntry(const fs::directory_entry& entry) {
  std::error_code ignored;
  return entry.is_directory(ignored);
}

// One class folder's texts, one per file.
absl::Status ReadClassFolder(const fs::path& dir, std::vector<TextExample>& out) {
  absl::StatusOr<std::vector<fs::path>> files = ListDir(dir, IsTextFile);
  if (!files.ok()) return files.status();
  if (files->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir.string(), ": no .txt files; each file holds one text of class ",
                     dir.filename().string()));
  }
  for (const fs::path& file : *files) {
    absl::StatusOr<std::string> contents = ReadInput(file.string());
    if (!contents.ok()) return contents.status();
    absl::string_view text = absl::StripAsciiWhitespace(*contents);
    if (text.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(file.string(), ": empty text"));
    }
    if (absl::Status s = CheckUtf8(text, file.string()); !s.ok()) return s;
    out.push_back({dir.filename().string(), std::string(text), file.string()});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TextExample>> ReadTextFolders(const std::string& root) {
  absl::StatusOr<std::vector<fs::path>> classes = ListDir(root, IsDirectoryEntry);
  if (!classes.ok()) return classes.status();
  if (classes->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        root, ": no class folders; expected <label>/*.txt, one text per file, or a TSV file"));
  }
  std::vector<TextExample> examples;
  for (const fs::path& dir : *classes) {
    if (absl::Status s = ReadClassFolder(dir, examples); !s.ok()) return s;
  }
  return examples;
}

// The length of the UTF-8 sequence that starts with `lead`, 0 if none does.
int SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;  // A continuation byte, an overlong lead (C0, C1) or past U+10FFFF.
}

}  // namespace

absl::Status CheckUtf8(absl::string_view text, absl::string_view where) {
  for (size_t i = 0; i < text.size();) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    const int length = SequenceLength(byte(i));
    bool ok = length > 0 && i + length <= text.size();
    for (int k = 1; ok && k < length; ++k) ok = (byte(i + k) & 0xC0) == 0x80;
    if (ok && length >= 3) {
      // The second byte's range rules out overlong forms, surrogates
      // (ED A0..BF) and code points past U+10FFFF (F4 90..).
      const unsigned char lead = byte(i), second = byte(i + 1);
      ok = !(lead == 0xE0 && second < 0xA0) && !(lead == 0xED && second > 0x9F) &&
           !(lead == 0xF0 && second < 0x90) && !(lead == 0xF4 && second > 0x8F);
    }
    if (!ok) return absl::InvalidArgumentError(absl::StrCat(where, ": invalid UTF-8 at byte ", i));
    i += length;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TextExample>> ParseTextTsv(absl::string_view contents,
                                                      absl::string_view name) {
  std::vector<TextExample> examples;
  const std::vector<absl::string_view> lines = SplitLines(contents);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (absl::StripAsciiWhitespace(lines[i]).empty()) continue;
    const std::string where = absl::StrCat(name, ":", i + 1);
    const size_t tab = lines[i].find('\t');
    if (tab == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": no tab; expected <label><TAB><text>"));
    }
    absl::string_view label = absl::StripAsciiWhitespace(lines[i].substr(0, tab));
    absl::string_view text = absl::StripAsciiWhitespace(lines[i].substr(tab + 1));
    if (label.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty label"));
    if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty text"));
    if (absl::Status s = CheckUtf8(lines[i], where); !s.ok()) return s;
    examples.push_back({std::string(label), std::string(text), where});
  }
  if (examples.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": no examples; expected <label><TAB><text> lines"));
  }
  return examples;
}

absl::StatusOr<std::vector<TextExample>> ReadTextSupportSet(const std::string& path) {
  std::error_code ec;
  if (path != kStdin && fs::is_directory(path, ec)) return ReadTextFolders(path);
  absl::StatusOr<std::string> contents = ReadInput(path);
  if (!contents.ok()) return contents.status();
  return ParseTextTsv(*contents, DisplayName(path));
}

absl::StatusOr<std::vector<TextExample>> ReadTextLines(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadInput(path);
  if (!contents.ok()) return contents.status();
  const std::string name = DisplayName(path);
  std::vector<TextExample> texts;
  const std::vector<absl::string_view> lines = SplitLines(*contents);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = absl::StrCat(name, ":", i + 1);
    absl::string_view text = absl::StripAsciiWhitespace(lines[i]);
    if (text.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": empty line; each line is one text to classify"));
    }
    if (absl::Status s = CheckUtf8(text, where); !s.ok()) return s;
    texts.push_back({"", std::string(text), where});
  }
  if (texts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": no lines; expected one text per line"));
  }
  return texts;
}

bool HasTextFiles(const std::string& dir) {
  absl::StatusOr<std::vector<fs::path>> classes = ListDir(dir, IsDirectoryEntry);
  if (!classes.ok()) return false;
  for (const fs::path& class_dir : *classes) {
    absl::StatusOr<std::vector<fs::path>> files = ListDir(class_dir, IsTextFile);
    if (files.ok() && !files->empty()) return true;
  }
  return false;
}

}  // namespace adaptd::client
