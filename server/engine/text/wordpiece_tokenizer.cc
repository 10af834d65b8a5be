#include "server/engine/text/wordpiece_tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/engine/text/unicode_chars.h"
#include "server/engine/text/vocab.h"

namespace adaptd::engine {
namespace {

absl::Status CheckOptions(const WordPieceTokenizer::Options& options) {
  if (options.max_input_chars_per_word < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_input_chars_per_word: must be at least 1, got ", options.max_input_chars_per_word));
  }
  if (options.continuing_prefix.empty()) {
    return absl::InvalidArgumentError("continuing_prefix: must not be empty");
  }
  return unicode::CheckUnicodeData();
}

}  // namespace

absl::StatusOr<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::Create(
    const Options& options) {
  if (options.vocab_path.empty()) return absl::InvalidArgumentError("vocab_path: empty");
  ASSIGN_OR_RETURN(std::vector<std::string> vocab, ReadVocabFile(options.vocab_path));
  return CreateFromTokens(std::move(vocab), options);
}

absl::StatusOr<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::CreateFromTokens(
    std::vector<std::string> vocab, const Options& options) {
  RETURN_IF_ERROR(CheckOptions(options));
  std::unique_ptr<WordPieceTokenizer> tokenizer(
      new WordPieceTokenizer(std::move(vocab), options));
  RETURN_IF_ERROR(tokenizer->Index());
  return tokenizer;
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, const Options& options)
    : options_(options),
      basic_(BasicTokenizerOptions{options.lower_case, options.tokenize_chinese_chars}),
      vocab_(std::move(vocab)) {}

absl::Status WordPieceTokenizer::Index() {
  const std::string where =
      options_.vocab_path.empty() ? "vocab" : absl::StrCat("vocab ", options_.vocab_path);
  if (vocab_.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": more than 2^31 tokens"));
  }
  const absl::string_view prefix = options_.continuing_prefix;
  for (size_t id = 0; id < vocab_.size(); ++id) {
    const absl::string_view token = vocab_[id];
    if (token.empty()) continue;
    if (!ids_.emplace(token, static_cast<int32_t>(id)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": duplicate token \"", token, "\" (id ", id, ")"));
    }
    max_piece_bytes_ = std::max(max_piece_bytes_, token.size());
    if (absl::StartsWith(token, prefix) && token.size() > prefix.size()) {
      continuation_ids_.emplace(token.substr(prefix.size()), static_cast<int32_t>(id));
    }
  }
  const auto required = [&](const std::string& token, int32_t* id) -> absl::Status {
    auto found = TokenId(token);
    if (!found.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": no ", token, " token"));
    }
    *id = *found;
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(required(options_.unk_token, &special_ids_.unk));
  RETURN_IF_ERROR(required(options_.cls_token, &special_ids_.cls));
  RETURN_IF_ERROR(required(options_.sep_token, &special_ids_.sep));
  special_ids_.pad = TokenId(options_.pad_token).value_or(-1);
  special_ids_.mask = TokenId(options_.mask_token).value_or(-1);
  return absl::OkStatus();
}

std::optional<int32_t> WordPieceTokenizer::TokenId(absl::string_view token) const {
  auto it = ids_.find(token);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

int32_t WordPieceTokenizer::Lookup(absl::string_view piece, bool continuing) const {
  const auto& index = continuing ? continuation_ids_ : ids_;
  auto it = index.find(piece);
  return it == index.end() ? -1 : it->second;
}

void WordPieceTokenizer::AppendWordPieces(const std::u32string& word,
                                          std::vector<int32_t>* ids) const {
  if (word.size() > static_cast<size_t>(options_.max_input_chars_per_word)) {
    ids->push_back(special_ids_.unk);
    return;
  }
  // offsets[i]: where code point i starts in the UTF-8 text.
  std::string utf8;
  std::vector<size_t> offsets;
  offsets.reserve(word.size() + 1);
  for (char32_t c : word) {
    offsets.push_back(utf8.size());
    unicode::AppendUtf8(c, &utf8);
  }
  offsets.push_back(utf8.size());
  const size_t first_new = ids->size();
  for (size_t start = 0; start < word.size();) {
    // Greedy longest match first: the longest piece from `start` in the vocab.
    int32_t id = -1;
    size_t end = word.size();
    for (; end > start; --end) {
      const size_t bytes = offsets[end] - offsets[start];
      if (bytes > max_piece_bytes_) continue;
      id = Lookup(absl::string_view(utf8).substr(offsets[start], bytes), start > 0);
      if (id >= 0) break;
    }
    if (id < 0) {
      // One piece that nothing covers makes the whole word unknown.
      ids->resize(first_new);
      ids->push_back(special_ids_.unk);
      return;
    }
    ids->push_back(id);
    start = end;
  }
}

absl::StatusOr<std::vector<int32_t>> WordPieceTokenizer::Pieces(absl::string_view text,
                                                                absl::string_view field) const {
  ASSIGN_OR_RETURN(const std::vector<std::u32string> words, basic_.Split(text, field));
  std::vector<int32_t> ids;
  ids.reserve(words.size());
  for (const std::u32string& word : words) AppendWordPieces(word, &ids);
  return ids;
}

}  // namespace adaptd::engine
