#include "train/wordnet.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"

namespace adaptd::train {
namespace {

// The noun lexicographer files, by number (WordNet's lexnames).
constexpr const char* kNounFiles[] = {
    "noun.Tops",     "noun.act",        "noun.animal",    "noun.artifact",   "noun.attribute",
    "noun.body",     "noun.cognition",  "noun.communication", "noun.event",  "noun.feeling",
    "noun.food",     "noun.group",      "noun.location",  "noun.motive",     "noun.object",
    "noun.person",   "noun.phenomenon", "noun.plant",     "noun.possession", "noun.process",
    "noun.quantity", "noun.relation",   "noun.shape",     "noun.state",      "noun.substance",
    "noun.time"};
constexpr int kFirstNounFile = 3;
constexpr char kEntity[] = "00001740";

struct Synset {
  int lex_file = 0;
  std::vector<std::string> words;     // Lemmas, underscores as spaces.
  std::vector<std::string> hyponyms;  // Offsets, instances included.
  std::string definition;
  std::vector<std::string> examples;
};

// The gloss "definition; \"example\"; \"example\"" split in two.
void ParseGloss(absl::string_view gloss, Synset* s) {
  gloss = absl::StripAsciiWhitespace(gloss);
  const size_t quote = gloss.find("; \"");
  s->definition = std::string(absl::StripAsciiWhitespace(gloss.substr(0, quote)));
  if (quote == absl::string_view::npos) return;
  for (absl::string_view part : absl::StrSplit(gloss.substr(quote + 2), "; \"")) {
    part = absl::StripAsciiWhitespace(part);
    absl::ConsumePrefix(&part, "\"");
    const size_t end = part.rfind('"');
    if (end != absl::string_view::npos) part = part.substr(0, end);
    if (!part.empty()) s->examples.emplace_back(part);
  }
}

// One data.noun line: offset lex_filenum ss_type w_cnt (word lex_id)*
// p_cnt (symbol offset pos source_target)* | gloss.
absl::StatusOr<std::pair<std::string, Synset>> ParseLine(absl::string_view line,
                                                         const std::string& where) {
  const size_t bar = line.find(" | ");
  if (bar == absl::string_view::npos) return absl::InvalidArgumentError(where + ": no gloss");
  std::vector<absl::string_view> f = absl::StrSplit(line.substr(0, bar), ' ', absl::SkipEmpty());
  Synset s;
  int words = 0, pointers = 0;
  if (f.size() < 4 || !absl::SimpleAtoi(f[1], &s.lex_file) ||
      !absl::SimpleHexAtoi(f[3], &words) || f.size() < 5 + 2 * static_cast<size_t>(words) ||
      !absl::SimpleAtoi(f[4 + 2 * words], &pointers) ||
      f.size() < 5 + 2 * static_cast<size_t>(words) + 4 * static_cast<size_t>(pointers)) {
    return absl::InvalidArgumentError(where + ": not a WordNet data line");
  }
  for (int w = 0; w < words; ++w) {
    std::string lemma(f[4 + 2 * w]);
    if (const size_t paren = lemma.find('('); paren != std::string::npos) lemma.resize(paren);
    s.words.push_back(absl::StrReplaceAll(lemma, {{"_", " "}}));
  }
  for (int p = 0; p < pointers; ++p) {
    const size_t at = 5 + 2 * words + 4 * p;
    if ((f[at] == "~" || f[at] == "~i") && f[at + 2] == "n") s.hyponyms.emplace_back(f[at + 1]);
  }
  ParseGloss(line.substr(bar + 3), &s);
  return std::make_pair(std::string(f[0]), std::move(s));
}

using Synsets = absl::flat_hash_map<std::string, Synset>;

absl::StatusOr<Synsets> ReadNouns(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "data.noun").string();
  if (!std::filesystem::is_regular_file(path)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file (Debian's wordnet-base)"));
  }
  ASSIGN_OR_RETURN(const std::string contents, ReadFile(path));
  Synsets synsets;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n', absl::SkipEmpty())) {
    ++n;
    if (absl::StartsWith(line, "  ")) continue;  // The licence header.
    ASSIGN_OR_RETURN(auto entry, ParseLine(line, absl::StrCat(path, ":", n)));
    synsets.insert(std::move(entry));
  }
  return synsets;
}

// Chooses the classes: see wordnet.h.
class Chooser {
 public:
  Chooser(const Synsets& synsets, const WordNetOptions& o) : synsets_(synsets), o_(o) {}

  void Visit(const std::string& offset) {
    if (!visited_.insert(offset).second) return;
    std::vector<std::string> members;
    const bool small = Collect(offset, &members);
    if (small && static_cast<int>(members.size()) >= o_.min_synsets) {
      for (const auto& m : members) taken_.insert(m);
      classes_.emplace_back(offset, std::move(members));
      return;
    }
    if (small) return;
    const auto it = synsets_.find(offset);
    if (it == synsets_.end()) return;
    for (const auto& h : it->second.hyponyms) Visit(h);
  }

  const std::vector<std::pair<std::string, std::vector<std::string>>>& classes() const {
    return classes_;
  }

 private:
  // The untaken synsets of the subtree, depth first; false once there are
  // more than max_synsets.
  bool Collect(const std::string& root, std::vector<std::string>* members) const {
    absl::flat_hash_set<std::string> seen;
    std::vector<std::string> stack = {root};
    while (!stack.empty()) {
      std::string at = std::move(stack.back());
      stack.pop_back();
      if (taken_.contains(at) || !seen.insert(at).second) continue;
      const auto it = synsets_.find(at);
      if (it == synsets_.end()) continue;  // A pointer to no synset.
      members->push_back(at);
      if (static_cast<int>(members->size()) > o_.max_synsets) return false;
      for (auto h = it->second.hyponyms.rbegin(); h != it->second.hyponyms.rend(); ++h) {
        stack.push_back(*h);
      }
    }
    return true;
  }

  const Synsets& synsets_;
  const WordNetOptions& o_;
  absl::flat_hash_set<std::string> visited_, taken_;
  std::vector<std::pair<std::string, std::vector<std::string>>> classes_;
};

std::string FileName(int lex_file) {
  const int i = lex_file - kFirstNounFile;
  return i >= 0 && i < static_cast<int>(std::size(kNounFiles)) ? kNounFiles[i]
                                                               : absl::StrCat("noun.", lex_file);
}

}  // namespace

absl::StatusOr<Dataset> BuildWordNetCorpus(const WordNetOptions& o) {
  if (o.min_synsets < 1 || o.max_synsets < o.min_synsets) {
    return absl::InvalidArgumentError("wordnet: need 1 <= min_synsets <= max_synsets");
  }
  ASSIGN_OR_RETURN(const Synsets synsets, ReadNouns(o.dir));
  if (!synsets.contains(kEntity)) {
    return absl::InvalidArgumentError("wordnet: data.noun has no root synset \"entity\"");
  }
  Chooser chooser(synsets, o);
  chooser.Visit(kEntity);
  Dataset data;
  data.modality = Modality::kText;
  std::map<std::string, int32_t> groups;
  std::map<std::string, int> names;
  for (const auto& [root, members] : chooser.classes()) {
    const Synset& r = synsets.at(root);
    const std::string file = FileName(r.lex_file);
    if (!o.only_files.empty() &&
        std::find(o.only_files.begin(), o.only_files.end(), file) == o.only_files.end()) {
      continue;
    }
    const std::string& group = o.one_group.empty() ? file : o.one_group;
    auto g = groups.find(group);
    if (g == groups.end()) g = groups.emplace(group, data.AddGroup(group)).first;
    std::string name = o.one_group.empty()
                           ? absl::StrCat(file, "/", r.words.empty() ? root : r.words[0])
                           : absl::StrCat(o.one_group, "/", file, ":",
                                          r.words.empty() ? root : r.words[0]);
    if (const int n = ++names[name]; n > 1) absl::StrAppend(&name, " (", n, ")");
    const int32_t c = data.AddClass(name, g->second);
    for (const auto& m : members) {
      const Synset& s = synsets.at(m);
      data.AddText(c, o.lemmas ? absl::StrCat(absl::StrJoin(s.words, ", "), ": ", s.definition)
                               : s.definition);
      if (o.examples) {
        for (const auto& e : s.examples) data.AddText(c, e);
      }
    }
  }
  if (data.num_classes() == 0) return absl::NotFoundError("wordnet: no class of that size");
  RETURN_IF_ERROR(AssignSplitsOrAllTrain(&data, o.split));
  return data;
}

}  // namespace adaptd::train
