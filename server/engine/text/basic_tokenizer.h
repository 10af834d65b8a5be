// BERT's BasicTokenizer (google-research/bert tokenization.py): splits text
// into the words WordPiece then covers. In order:
//   1. cleaning: U+0000, U+FFFD and control characters (unicode_chars.h)
//      are dropped, whitespace becomes a space;
//   2. optionally, a space on each side of every CJK ideograph;
//   3. a split at whitespace (and at U+2028 / U+2029, where Python's
//      str.split() splits);
//   4. when uncased, each word lower-cased and its accents stripped (NFD,
//      then the Mn marks dropped);
//   5. each punctuation character split off as a word of its own.
// No NFC step (later Hugging Face versions add one): "e" + U+0301 stays two
// code points when cased. Thread-safe (immutable).
#ifndef ADAPTD_SERVER_ENGINE_TEXT_BASIC_TOKENIZER_H_
#define ADAPTD_SERVER_ENGINE_TEXT_BASIC_TOKENIZER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace adaptd::engine {

struct BasicTokenizerOptions {
  // Lower-case and strip accents, as uncased BERT models do.
  bool lower_case = true;
  // Make every CJK ideograph a word of its own, as BERT does for Chinese.
  bool tokenize_chinese_chars = true;
};

class BasicTokenizer {
 public:
  explicit BasicTokenizer(const BasicTokenizerOptions& options) : options_(options) {}

  // The words of `text`, as code points. Ill-formed UTF-8 is
  // INVALID_ARGUMENT "<field>: invalid UTF-8 at byte N".
  absl::StatusOr<std::vector<std::u32string>> Split(absl::string_view text,
                                                    absl::string_view field) const;

 private:
  // Steps 1 and 2 on the code points of the text.
  std::u32string CleanText(const std::u32string& text) const;
  // Steps 4 and 5 on one whitespace-separated word, appended to `words`.
  absl::Status SplitWord(std::u32string word, std::vector<std::u32string>* words) const;

  BasicTokenizerOptions options_;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_TEXT_BASIC_TOKENIZER_H_
