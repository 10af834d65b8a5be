#include "server/engine/text/vocab.h"

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "server/engine/text/unicode_chars.h"

namespace adaptd::engine {

absl::StatusOr<std::vector<std::string>> ParseVocab(absl::string_view contents,
                                                    absl::string_view name) {
  std::vector<absl::string_view> lines = absl::StrSplit(contents, '\n');
  // The newline that ends the last line starts no token.
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::vector<std::string> tokens;
  tokens.reserve(lines.size());
  absl::flat_hash_map<absl::string_view, size_t> first_line;
  for (size_t i = 0; i < lines.size(); ++i) {
    const absl::string_view token = absl::StripAsciiWhitespace(lines[i]);
    const std::string where = absl::StrCat("vocab ", name, " line ", i + 1);
    RETURN_IF_ERROR(unicode::DecodeUtf8(token, where).status());
    if (!token.empty()) {
      const auto [it, inserted] = first_line.emplace(token, i);
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": duplicate token \"", token,
                                                       "\", first on line ", it->second + 1));
      }
    }
    tokens.emplace_back(token);
  }
  return tokens;
}

absl::StatusOr<std::vector<std::string>> ReadVocabFile(const std::string& path) {
  auto contents = ReadFile(path);
  if (!contents.ok()) {
    return absl::Status(contents.status().code(),
                        absl::StrCat("vocab: ", contents.status().message()));
  }
  return ParseVocab(*contents, path);
}

}  // namespace adaptd::engine
