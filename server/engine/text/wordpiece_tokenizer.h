// BERT's tokenizer: BasicTokenizer (basic_tokenizer.h), then greedy
// longest-match-first WordPiece over a vocab.txt, then [CLS] ... [SEP] and
// truncation (Tokenizer::Encode). Gives the ids google-research/bert's
// FullTokenizer gives, for cased and uncased models. Thread-safe (immutable
// once created).
//
//   WordPieceTokenizer::Options options;
//   options.vocab_path = "models/minilm/vocab.txt";
//   ASSIGN_OR_RETURN(auto tokenizer, WordPieceTokenizer::Create(options));
//   ASSIGN_OR_RETURN(TextEncoding e, tokenizer->Encode("Hello, world!", 128));
//   // e.ids: [CLS] hello , world ! [SEP]
#ifndef ADAPTD_SERVER_ENGINE_TEXT_WORDPIECE_TOKENIZER_H_
#define ADAPTD_SERVER_ENGINE_TEXT_WORDPIECE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/engine/text/basic_tokenizer.h"
#include "server/engine/text/tokenizer.h"

namespace adaptd::engine {

class WordPieceTokenizer final : public Tokenizer {
 public:
  struct Options {
    // The vocab.txt (vocab.h): one token per line, the line number its id.
    // Ignored by CreateFromTokens.
    std::string vocab_path;
    // Lower-case and strip accents: true for uncased BERT models.
    bool lower_case = true;
    // Make every CJK ideograph a word of its own.
    bool tokenize_chinese_chars = true;
    // What a word that the vocab cannot cover becomes; must be in the vocab.
    std::string unk_token = "[UNK]";
    // Opens every encoding; must be in the vocab.
    std::string cls_token = "[CLS]";
    // Closes every encoding; must be in the vocab.
    std::string sep_token = "[SEP]";
    // Pads an encoding; optional.
    std::string pad_token = "[PAD]";
    // BERT's mask token; optional, looked up for callers.
    std::string mask_token = "[MASK]";
    // A longer word (in code points) becomes unk_token whole.
    int max_input_chars_per_word = 100;
    // Marks a wordpiece that continues a word.
    std::string continuing_prefix = "##";
  };

  // Reads options.vocab_path. NOT_FOUND for a missing file; INVALID_ARGUMENT
  // names the problem: a bad line, a duplicate token, a missing special token.
  static absl::StatusOr<std::unique_ptr<WordPieceTokenizer>> Create(const Options& options);
  // As Create, with the vocab given as tokens by id.
  static absl::StatusOr<std::unique_ptr<WordPieceTokenizer>> CreateFromTokens(
      std::vector<std::string> vocab, const Options& options);

  absl::string_view kind() const override { return "wordpiece"; }
  std::optional<int32_t> TokenId(absl::string_view token) const override;
  const std::string& Token(int32_t id) const override { return vocab_[static_cast<size_t>(id)]; }
  int32_t vocab_size() const override { return static_cast<int32_t>(vocab_.size()); }
  // unk, cls and sep are always set; pad and mask where the vocab has them.
  const SpecialTokenIds& special_ids() const override { return special_ids_; }
  const Options& options() const { return options_; }

  // The indexes point into vocab_: never copied.
  WordPieceTokenizer(const WordPieceTokenizer&) = delete;
  WordPieceTokenizer& operator=(const WordPieceTokenizer&) = delete;

 private:
  WordPieceTokenizer(std::vector<std::string> vocab, const Options& options);
  absl::Status Index();
  // The wordpiece ids of `text`, without [CLS] and [SEP].
  absl::StatusOr<std::vector<int32_t>> Pieces(absl::string_view text,
                                              absl::string_view field) const override;
  // Appends the wordpieces of one word, or unk.
  void AppendWordPieces(const std::u32string& word, std::vector<int32_t>* ids) const;
  // The id of `piece` (UTF-8) as the start of a word or, when `continuing`,
  // as a continuation (the prefix before it); -1 if the vocab has none.
  int32_t Lookup(absl::string_view piece, bool continuing) const;

  const Options options_;
  const BasicTokenizer basic_;
  const std::vector<std::string> vocab_;
  // Every token by text, and the continuation tokens by their text without
  // the prefix, so a lookup needs no string built.
  absl::flat_hash_map<absl::string_view, int32_t> ids_;
  absl::flat_hash_map<absl::string_view, int32_t> continuation_ids_;
  // The longest token, in UTF-8 bytes (without the prefix for continuations):
  // no longer piece is looked up.
  size_t max_piece_bytes_ = 0;
  SpecialTokenIds special_ids_;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_TEXT_WORDPIECE_TOKENIZER_H_
