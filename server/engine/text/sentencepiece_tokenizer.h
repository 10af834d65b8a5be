// A SentencePiece model (a .model file: unigram or BPE, with its own
// normalization rules) as a Tokenizer, through Debian's libsentencepiece
// (sentencepiece_library.h). Thread-safe (immutable once created).
//
// Ids are the model's own piece ids, unchanged. The special tokens map so:
//   unk  the model's unk id (every SentencePiece model has one);
//   cls  the piece "[CLS]" if the model has it, else its bos id (<s>);
//   sep  the piece "[SEP]" if the model has it, else its eos id (</s>);
//   pad  the piece "[PAD]" if the model has it, else its pad id;
//   mask the piece "[MASK]" if the model has it.
// Each is -1 where that finds nothing; Encode then leaves cls or sep out and
// a batch pads with 0 under a zero attention mask. The models `adapt-train
// vocab` trains have [PAD]=0 (pad), [UNK]=1 (unk), [CLS]=2 (bos), [SEP]=3
// (eos) and [MASK]=4 (a control symbol), so an encoding is
// [CLS] pieces... [SEP] as with BERT; an ALBERT-style model with [CLS] and
// [SEP] control symbols encodes the same way.
//
//   ASSIGN_OR_RETURN(auto tokenizer, SentencePieceTokenizer::Create("m/spm.model"));
//   ASSIGN_OR_RETURN(TextEncoding e, tokenizer->Encode("Hello, world!", 128));
#ifndef ADAPTD_SERVER_ENGINE_TEXT_SENTENCEPIECE_TOKENIZER_H_
#define ADAPTD_SERVER_ENGINE_TEXT_SENTENCEPIECE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/engine/text/tokenizer.h"

struct AdaptdSentencePieceApi;

namespace adaptd::engine {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Reads the .model at `path`. NOT_FOUND for a missing file;
  // INVALID_ARGUMENT naming the path for a file that is not a SentencePiece
  // model; UNAVAILABLE when libsentencepiece cannot be loaded.
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> Create(const std::string& path);
  // As Create, from a .model file's bytes; `name` is named in errors.
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> CreateFromModel(
      std::string model, absl::string_view name);
  ~SentencePieceTokenizer() override;

  absl::string_view kind() const override { return "sentencepiece"; }
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  const SpecialTokenIds& special_ids() const override { return special_ids_; }
  std::optional<int32_t> TokenId(absl::string_view token) const override;
  const std::string& Token(int32_t id) const override { return pieces_[static_cast<size_t>(id)]; }

  // The text of `ids` as SentencePiece decodes it (control pieces dropped).
  // An id out of range is INVALID_ARGUMENT naming it.
  absl::StatusOr<std::string> Decode(const std::vector<int32_t>& ids) const;

  SentencePieceTokenizer(const SentencePieceTokenizer&) = delete;
  SentencePieceTokenizer& operator=(const SentencePieceTokenizer&) = delete;

 private:
  SentencePieceTokenizer(const AdaptdSentencePieceApi* api, void* processor)
      : api_(api), processor_(processor) {}
  // Reads the pieces and works out the special ids.
  void Index();
  absl::StatusOr<std::vector<int32_t>> Pieces(absl::string_view text,
                                              absl::string_view field) const override;

  const AdaptdSentencePieceApi* const api_;
  void* const processor_;  // Owned; lives in the shim's namespace.
  std::vector<std::string> pieces_;
  absl::flat_hash_map<absl::string_view, int32_t> ids_;  // Points into pieces_.
  SpecialTokenIds special_ids_;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_TEXT_SENTENCEPIECE_TOKENIZER_H_
