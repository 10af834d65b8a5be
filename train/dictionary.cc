#include "train/dictionary.h"

#include <zlib.h>

#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace adaptd::train {
namespace {

// The whole (gzip- or dictzip-compressed, or plain) file.
absl::StatusOr<std::string> ReadMaybeGzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::unique_ptr<gzFile_s, int (*)(gzFile)> closer(f, gzclose);
  std::string out;
  char buffer[1 << 16];
  for (;;) {
    const int got = gzread(f, buffer, sizeof(buffer));
    if (got < 0) {
      int err = 0;
      return absl::DataLossError(absl::StrCat(path, ": ", gzerror(f, &err)));
    }
    if (got == 0) break;
    out.append(buffer, got);
  }
  return out;
}

// `text` without the spans from each `open` to the next `close`, and with
// runs of whitespace made one space.
std::string Clean(absl::string_view text) {
  std::string out;
  char closing = 0;
  for (const char c : text) {
    if (closing != 0) {
      if (c == closing) closing = 0;
      continue;
    }
    if (c == '\\') {
      closing = '\\';
    } else if (c == '[') {
      closing = ']';
    } else if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// An entry starts at a line that does not start with whitespace, after a
// blank line; its first line is "Headword \pro*nun"ci*a`tion\, pos. ...".
std::vector<absl::string_view> Entries(absl::string_view body) {
  std::vector<absl::string_view> entries;
  size_t start = 0;
  for (size_t at = body.find("\n\n"); at != absl::string_view::npos;
       at = body.find("\n\n", at + 1)) {
    if (at + 2 < body.size() && !absl::ascii_isspace(static_cast<unsigned char>(body[at + 2]))) {
      entries.push_back(body.substr(start, at - start));
      start = at + 2;
    }
  }
  entries.push_back(body.substr(start));
  return entries;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ReadDictionaryTexts(const std::string& path) {
  auto body = ReadMaybeGzip(path);
  if (!body.ok() && absl::IsNotFound(body.status()) && path == kGcideDict) {
    return absl::NotFoundError(
        absl::StrCat(body.status().message(), " (apt-get install dict-gcide)"));
  }
  if (!body.ok()) return body.status();
  absl::flat_hash_map<std::string, size_t> index;
  std::vector<std::string> texts;
  for (const absl::string_view entry : Entries(*body)) {
    const absl::string_view first = entry.substr(0, entry.find('\n'));
    const std::string head = absl::AsciiStrToLower(
        absl::StripAsciiWhitespace(first.substr(0, first.find_first_of("\\,"))));
    // dictd's own records ("00-database-info") and entries without a head.
    if (head.empty() || absl::StartsWith(head, "00-") || head.size() == first.size()) continue;
    std::string text;
    for (const absl::string_view paragraph : absl::StrSplit(entry, "\n\n")) {
      if (absl::StrContains(paragraph, "[WordNet")) continue;
      const std::string cleaned = Clean(paragraph);
      if (!cleaned.empty()) absl::StrAppend(&text, text.empty() ? "" : " ", cleaned);
    }
    if (text.empty()) continue;
    const auto [it, added] = index.try_emplace(head, texts.size());
    if (added) {
      texts.push_back(std::move(text));
    } else {
      absl::StrAppend(&texts[it->second], " ", text);
    }
  }
  if (texts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no dictionary entries"));
  }
  return texts;
}

absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) {
    if (!absl::StripAsciiWhitespace(line).empty()) texts.push_back(std::move(line));
  }
  if (texts.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no texts"));
  return texts;
}

absl::StatusOr<std::vector<std::string>> ReadCorpus(const std::string& path) {
  auto lines = ReadLines(path);
  if (!lines.ok()) {
    return absl::Status(lines.status().code(), absl::StrCat("corpus: ", lines.status().message()));
  }
  return lines;
}

absl::Status WriteLines(const std::vector<std::string>& texts, const std::string& path) {
  std::ofstream out(path);
  for (const std::string& text : texts) out << text << '\n';
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write"));
  return absl::OkStatus();
}

}  // namespace adaptd::train
