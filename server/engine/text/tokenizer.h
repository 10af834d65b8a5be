// What every text backbone's tokenizer does: UTF-8 text -> token ids with
// the model's special tokens around them, truncated to a maximum length.
// WordPieceTokenizer (BERT's vocab.txt) and SentencePieceTokenizer (a
// SentencePiece .model) implement it; LoadTokenizer (load_tokenizer.h) picks
// one from a model.pbtxt's TextConfig. Implementations are immutable once
// created, so thread-safe.
//
//   ASSIGN_OR_RETURN(std::shared_ptr<const Tokenizer> tokenizer,
//                    LoadTokenizer(config.text(), folder));
//   ASSIGN_OR_RETURN(TextEncoding e, tokenizer->Encode("Hello, world!", 128));
//   // e.ids: [CLS] pieces... [SEP]; e.truncated() if pieces were cut off.
#ifndef ADAPTD_SERVER_ENGINE_TEXT_TOKENIZER_H_
#define ADAPTD_SERVER_ENGINE_TEXT_TOKENIZER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace adaptd::engine {

// One encoded text: [CLS] pieces [SEP], then pad ids when padded.
struct TextEncoding {
  std::vector<int32_t> ids;
  // 1 for a real token ([CLS] and [SEP] included), 0 for padding.
  std::vector<int32_t> attention_mask;
  // How many pieces were cut off the end to fit max_length.
  int64_t num_truncated = 0;
  bool truncated() const { return num_truncated > 0; }
};

struct TextEncodeOptions {
  // Pad with the pad id (attention mask 0) up to max_length; needs a pad
  // token ([PAD]) in the vocabulary.
  bool pad_to_max_length = false;
  // The request field the text came from, named in INVALID_ARGUMENT errors,
  // e.g. "inputs[2].text".
  std::string field = "text";
};

// The ids of the special tokens; -1 where the vocabulary has none. unk is
// always set. cls opens and sep closes every encoding where they are set
// (WordPiece requires both).
struct SpecialTokenIds {
  int32_t unk = -1;
  int32_t cls = -1;
  int32_t sep = -1;
  int32_t pad = -1;
  int32_t mask = -1;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // "wordpiece" or "sentencepiece", as model.pbtxt's text.tokenizer names it.
  virtual absl::string_view kind() const = 0;
  // Ids are in [0, vocab_size()).
  virtual int32_t vocab_size() const = 0;
  virtual const SpecialTokenIds& special_ids() const = 0;
  // The id of `token` if the vocabulary has it (never unk for a token it
  // lacks).
  virtual std::optional<int32_t> TokenId(absl::string_view token) const = 0;
  // The token with `id`. REQUIRES: 0 <= id < vocab_size().
  virtual const std::string& Token(int32_t id) const = 0;

  // The piece ids of `text`, without the special tokens. Ill-formed UTF-8
  // is INVALID_ARGUMENT "<field>: invalid UTF-8 at byte N".
  absl::StatusOr<std::vector<int32_t>> Tokenize(absl::string_view text,
                                                absl::string_view field = "text") const {
    return Pieces(text, field);
  }
  // [CLS] + as many pieces as fit in max_length + [SEP] (each special where
  // set). REQUIRES: max_length >= 2 (else INVALID_ARGUMENT naming
  // max_length). Padding without a pad id is FAILED_PRECONDITION.
  absl::StatusOr<TextEncoding> Encode(
      absl::string_view text, int max_length,
      const TextEncodeOptions& options = TextEncodeOptions()) const;
  // The id that pads a batch of encodings: the pad id, else 0 (masked out).
  int32_t pad_id() const { return special_ids().pad >= 0 ? special_ids().pad : 0; }

 protected:
  Tokenizer() = default;
  // What Tokenize returns; implementations check the UTF-8 themselves.
  virtual absl::StatusOr<std::vector<int32_t>> Pieces(absl::string_view text,
                                                      absl::string_view field) const = 0;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_TEXT_TOKENIZER_H_
