// A text model's tokenizer from its model.pbtxt `text` block (TextConfig):
// WordPiece over text.vocab_file, or SentencePiece over
// text.sentencepiece_file, as text.tokenizer says. Used by every text
// backbone, TorchScript or native, and by adapt-train. Thread-safe
// (stateless).
//
//   ASSIGN_OR_RETURN(std::shared_ptr<const Tokenizer> tokenizer,
//                    LoadTokenizer(config.text(), "models/minilm"));
#ifndef ADAPTD_SERVER_ENGINE_TEXT_LOAD_TOKENIZER_H_
#define ADAPTD_SERVER_ENGINE_TEXT_LOAD_TOKENIZER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "adaptd/v1/model_config.pb.h"
#include "server/engine/text/tokenizer.h"

namespace adaptd::engine {

// The tokenizer kinds text.tokenizer may name; empty means kWordPiece.
inline constexpr char kWordPiece[] = "wordpiece";
inline constexpr char kSentencePiece[] = "sentencepiece";

// Checks the tokenizer fields of `text` without reading a file:
// text.tokenizer is a known kind, and the kind's file is set while the other
// kind's is not. INVALID_ARGUMENT names the field ("text.vocab_file: ...").
absl::Status ValidateTokenizerConfig(const adaptd::v1::TextConfig& text);

// ValidateTokenizerConfig, then the tokenizer of the file named there,
// relative to `folder`. A missing file is NOT_FOUND and a bad one
// INVALID_ARGUMENT, both naming the field and the path.
absl::StatusOr<std::shared_ptr<const Tokenizer>> LoadTokenizer(
    const adaptd::v1::TextConfig& text, const std::string& folder);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_TEXT_LOAD_TOKENIZER_H_
