#include "server/engine/text/basic_tokenizer.h"

#include <utility>

#include "server/common/status_macros.h"
#include "server/engine/text/unicode_chars.h"

namespace adaptd::engine {

absl::StatusOr<std::vector<std::u32string>> BasicTokenizer::Split(
    absl::string_view text, absl::string_view field) const {
  ASSIGN_OR_RETURN(const std::u32string code_points, unicode::DecodeUtf8(text, field));
  const std::u32string cleaned = CleanText(code_points);
  std::vector<std::u32string> words;
  size_t start = 0;
  while (start < cleaned.size()) {
    size_t end = cleaned.find(U' ', start);
    if (end == std::u32string::npos) end = cleaned.size();
    if (end > start) RETURN_IF_ERROR(SplitWord(cleaned.substr(start, end - start), &words));
    start = end + 1;
  }
  return words;
}

std::u32string BasicTokenizer::CleanText(const std::u32string& text) const {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c == 0 || c == 0xFFFD || unicode::IsControl(c)) continue;
    if (unicode::IsWhitespace(c) || unicode::IsLineSeparator(c)) {
      out.push_back(U' ');
    } else if (options_.tokenize_chinese_chars && unicode::IsChineseChar(c)) {
      out.push_back(U' ');
      out.push_back(c);
      out.push_back(U' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::Status BasicTokenizer::SplitWord(std::u32string word,
                                       std::vector<std::u32string>* words) const {
  if (options_.lower_case) {
    ASSIGN_OR_RETURN(word, unicode::LowerAndStripAccents(word));
  }
  std::u32string current;
  for (char32_t c : word) {
    if (!unicode::IsPunctuation(c)) {
      current.push_back(c);
      continue;
    }
    if (!current.empty()) words->push_back(std::move(current));
    current.clear();
    words->push_back(std::u32string(1, c));
  }
  if (!current.empty()) words->push_back(std::move(current));
  return absl::OkStatus();
}

}  // namespace adaptd::engine
