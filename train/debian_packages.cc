#include "train/debian_packages.h"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "train/text_data.h"

namespace adaptd::train {
namespace {

// One package's section and the paragraphs of its long description.
struct Package {
  std::string section;
  std::vector<std::string> paragraphs;
};

// "contrib/net" -> "net"; "libs" -> "libs".
std::string SectionName(absl::string_view section) {
  const size_t slash = section.rfind('/');
  if (slash != absl::string_view::npos) section.remove_prefix(slash + 1);
  return std::string(absl::StripAsciiWhitespace(section));
}

// Splits a Description's continuation lines (without their first space)
// into paragraphs: "." alone separates them; lines are joined by a space.
std::vector<std::string> Paragraphs(const std::vector<absl::string_view>& lines) {
  std::vector<std::string> out;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) out.push_back(std::move(current));
    current.clear();
  };
  for (absl::string_view line : lines) {
    line = absl::StripAsciiWhitespace(line);
    if (line == ".") {
      flush();
    } else if (!line.empty()) {
      if (!current.empty()) current += ' ';
      current.append(line.data(), line.size());
    }
  }
  flush();
  return out;
}

// The stanzas of a status file, as (section, description paragraphs).
class StanzaParser {
 public:
  explicit StanzaParser(std::string path) : path_(std::move(path)) {}

  absl::Status Line(absl::string_view line, int number) {
    absl::ConsumeSuffix(&line, "\r");
    if (absl::StripAsciiWhitespace(line).empty()) {
      EndStanza();
      return absl::OkStatus();
    }
    if (line[0] == ' ' || line[0] == '\t') {
      if (field_.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path_, ":", number, ": a continuation line with no field before it"));
      }
      if (field_ == "description") description_.push_back(line.substr(1));
      return absl::OkStatus();
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ":", number, ": expected \"Field: value\""));
    }
    field_ = absl::AsciiStrToLower(line.substr(0, colon));
    if (field_ == "section") section_ = SectionName(line.substr(colon + 1));
    if (field_ == "description") has_description_ = true;
    return absl::OkStatus();
  }

  std::vector<Package> Finish() && {
    EndStanza();
    return std::move(packages_);
  }

 private:
  void EndStanza() {
    if (!section_.empty() && has_description_) {
      packages_.push_back({section_, Paragraphs(description_)});
    }
    field_.clear();
    section_.clear();
    description_.clear();
    has_description_ = false;
  }

  std::string path_;
  std::string field_;  // Lower-cased; the field continuation lines belong to.
  std::string section_;
  bool has_description_ = false;
  std::vector<absl::string_view> description_;  // Continuation lines.
  std::vector<Package> packages_;
};

}  // namespace

absl::StatusOr<Dataset> ReadDebianPackages(const DebianPackagesOptions& options) {
  if (options.min_texts < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_texts: must be 1 or more, got ", options.min_texts));
  }
  const std::string& path = options.status_file;
  if (!std::filesystem::is_regular_file(path)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  ASSIGN_OR_RETURN(const std::string contents, ReadFile(path));
  StanzaParser parser(path);
  int number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    RETURN_IF_ERROR(parser.Line(line, ++number));
  }
  const std::vector<Package> packages = std::move(parser).Finish();

  std::vector<std::pair<std::string, std::string>> paragraphs;
  for (const Package& p : packages) {
    for (const std::string& text : p.paragraphs) paragraphs.emplace_back(p.section, text);
  }
  Dataset data = DistinctTextsByClass(paragraphs, options.min_texts);
  if (data.num_classes() == 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no section has ", options.min_texts,
                                            " or more description paragraphs"));
  }
  return data;
}

}  // namespace adaptd::train
