#include "train/text_data.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "server/engine/text/unicode_chars.h"

namespace adaptd::train {
namespace {

namespace fs = std::filesystem;

// Texts by label, in the order first seen.
class Collector {
 public:
  explicit Collector(const TextLoadOptions& options) : options_(options) {
    data_.modality = Modality::kText;
  }

  // Adds one text; `where` names its line or file in errors.
  absl::Status Add(absl::string_view label, absl::string_view text, const std::string& where) {
    label = absl::StripAsciiWhitespace(label);
    text = absl::StripAsciiWhitespace(text);
    if (label.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty label"));
    if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty text"));
    if (static_cast<int64_t>(text.size()) > options_.max_text_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": text of ", text.size(),
                                                     " bytes; at most ", options_.max_text_bytes));
    }
    RETURN_IF_ERROR(engine::unicode::DecodeUtf8(label, where + " label").status());
    RETURN_IF_ERROR(engine::unicode::DecodeUtf8(text, where + " text").status());
    const int32_t c = ClassOf(std::string(label));
    if (options_.max_per_class > 0 && counts_[c] >= options_.max_per_class) return absl::OkStatus();
    ++counts_[c];
    data_.AddText(c, std::string(text));
    return absl::OkStatus();
  }

  absl::StatusOr<Dataset> Finish(const std::string& source) && {
    if (data_.size() == 0) return absl::NotFoundError(absl::StrCat(source, ": no texts"));
    RETURN_IF_ERROR(AssignSplitsOrAllTrain(&data_, options_.split));
    return std::move(data_);
  }

 private:
  int32_t ClassOf(const std::string& label) {
    auto it = classes_.find(label);
    if (it != classes_.end()) return it->second;
    const size_t slash = label.rfind('/');
    const std::string group = slash == std::string::npos ? label : label.substr(0, slash);
    auto g = groups_.find(group);
    if (g == groups_.end()) g = groups_.emplace(group, data_.AddGroup(group)).first;
    const int32_t c = data_.AddClass(label, g->second);
    classes_.emplace(label, c);
    counts_.push_back(0);
    return c;
  }

  const TextLoadOptions& options_;
  Dataset data_;
  std::map<std::string, int32_t> classes_, groups_;
  std::vector<int> counts_;
};

}  // namespace

absl::StatusOr<Dataset> LoadTextTsv(const std::string& path, const TextLoadOptions& options) {
  if (!fs::is_regular_file(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  ASSIGN_OR_RETURN(const std::string contents, ReadFile(path));
  Collector collector(options);
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    absl::ConsumeSuffix(&line, "\r");
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const std::string where = absl::StrCat(path, ":", line_number);
    const size_t tab = line.find('\t');
    if (tab == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": no tab between label and text (expected label<TAB>text)"));
    }
    RETURN_IF_ERROR(collector.Add(line.substr(0, tab), line.substr(tab + 1), where));
  }
  return std::move(collector).Finish(path);
}

absl::StatusOr<Dataset> LoadTextFolders(const std::string& root, const TextLoadOptions& options) {
  if (!fs::is_directory(root)) return absl::NotFoundError(absl::StrCat(root, ": no such folder"));
  std::vector<std::pair<std::string, fs::path>> files;  // (label, file)
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file() ||
        absl::AsciiStrToLower(it->path().extension().string()) != ".txt") {
      continue;
    }
    const fs::path rel = it->path().parent_path().lexically_relative(root);
    if (rel.empty() || rel == ".") continue;  // Texts need a class folder.
    files.emplace_back(rel.generic_string(), it->path());
  }
  if (ec) return absl::InternalError(absl::StrCat(root, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  Collector collector(options);
  for (const auto& [label, file] : files) {
    ASSIGN_OR_RETURN(const std::string text, ReadFile(file.string()));
    RETURN_IF_ERROR(collector.Add(label, text, file.string()));
  }
  return std::move(collector).Finish(root);
}

Dataset DistinctTextsByClass(const std::vector<std::pair<std::string, std::string>>& labelled,
                             int min_texts, int64_t max_text_bytes) {
  // Each class's distinct texts in order, and the classes each text is under.
  std::map<std::string, std::vector<const std::string*>> texts;
  std::map<std::string, std::set<std::string>> classes_of;
  for (const auto& [name, text] : labelled) {
    if (static_cast<int64_t>(text.size()) > max_text_bytes ||
        !engine::unicode::DecodeUtf8(text, "text").ok()) {
      continue;
    }
    if (classes_of[text].insert(name).second) texts[name].push_back(&text);
  }
  Dataset data;
  data.modality = Modality::kText;
  for (const auto& [name, all] : texts) {
    std::vector<const std::string*> kept;
    for (const std::string* text : all) {
      if (classes_of[*text].size() == 1) kept.push_back(text);
    }
    if (static_cast<int>(kept.size()) < min_texts) continue;
    const int32_t label = data.AddClass(name, data.AddGroup(name));
    for (const std::string* text : kept) data.AddText(label, *text);
  }
  return data;
}

absl::Status WriteTextTsv(const Dataset& data, const std::string& path) {
  if (data.modality != Modality::kText) {
    return absl::InvalidArgumentError("WriteTextTsv: not a text set");
  }
  RETURN_IF_ERROR(data.Validate());
  std::string out;
  for (int64_t i = 0; i < data.size(); ++i) {
    const int32_t c = data.labels[i];
    const std::string& group = data.group_names[data.class_groups[c]];
    const std::string& name = data.class_names[c];
    const bool prefixed = name == group || absl::StartsWith(name, group + "/");
    absl::StrAppend(&out, prefixed ? name : absl::StrCat(group, "/", name), "\t");
    std::string text = data.texts[i];
    std::replace_if(text.begin(), text.end(), [](char ch) { return ch == '\t' || ch == '\n' ||
                                                                   ch == '\r'; }, ' ');
    absl::StrAppend(&out, text, "\n");
  }
  return WriteFileAtomically(path, out);
}

}  // namespace adaptd::train
