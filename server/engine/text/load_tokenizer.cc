#include "server/engine/text/load_tokenizer.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/engine/text/sentencepiece_tokenizer.h"
#include "server/engine/text/wordpiece_tokenizer.h"

namespace adaptd::engine {
namespace fs = std::filesystem;
using adaptd::v1::TextConfig;

namespace {

// The kind text.tokenizer names, kWordPiece when empty.
std::string KindOf(const TextConfig& text) {
  return text.tokenizer().empty() ? kWordPiece : text.tokenizer();
}

// `status` with `field: ` in front of its message, its code kept.
absl::Status Prefixed(const absl::Status& status, absl::string_view field) {
  return absl::Status(status.code(), absl::StrCat(field, ": ", status.message()));
}

// The path of `file` in `folder`, NOT_FOUND naming `field` if it is absent.
absl::StatusOr<std::string> ExistingFile(const std::string& folder, const std::string& file,
                                         absl::string_view field) {
  const std::string path = (fs::path(folder) / file).string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat(field, ": ", path, " does not exist"));
  }
  return path;
}

// Whether `path` loads as a SentencePiece model: to say so when it was
// named as a WordPiece vocab.
bool IsSentencePieceModel(const std::string& path) {
  return SentencePieceTokenizer::Create(path).ok();
}

absl::StatusOr<std::shared_ptr<const Tokenizer>> LoadWordPiece(const TextConfig& text,
                                                               const std::string& folder) {
  ASSIGN_OR_RETURN(std::string path, ExistingFile(folder, text.vocab_file(), "text.vocab_file"));
  WordPieceTokenizer::Options options;
  options.vocab_path = path;
  options.lower_case = text.lower_case();
  auto tokenizer = WordPieceTokenizer::Create(options);
  if (!tokenizer.ok() && IsSentencePieceModel(path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text.vocab_file: ", path, " is a SentencePiece model, not a WordPiece vocab.txt; set "
        "text.tokenizer: \"", kSentencePiece, "\" and name it in text.sentencepiece_file"));
  }
  if (!tokenizer.ok()) return Prefixed(tokenizer.status(), "text.vocab_file");
  return std::shared_ptr<const Tokenizer>(*std::move(tokenizer));
}

absl::StatusOr<std::shared_ptr<const Tokenizer>> LoadSentencePiece(const TextConfig& text,
                                                                   const std::string& folder) {
  ASSIGN_OR_RETURN(std::string path, ExistingFile(folder, text.sentencepiece_file(),
                                                  "text.sentencepiece_file"));
  auto tokenizer = SentencePieceTokenizer::Create(path);
  if (absl::IsInvalidArgument(tokenizer.status())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text.sentencepiece_file: ", tokenizer.status().message(),
        "; a WordPiece vocab.txt goes in text.vocab_file with text.tokenizer \"", kWordPiece,
        "\""));
  }
  if (!tokenizer.ok()) return Prefixed(tokenizer.status(), "text.sentencepiece_file");
  return std::shared_ptr<const Tokenizer>(*std::move(tokenizer));
}

}  // namespace

absl::Status ValidateTokenizerConfig(const TextConfig& text) {
  const std::string kind = KindOf(text);
  if (kind == kWordPiece) {
    if (!text.sentencepiece_file().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "text.sentencepiece_file: is set but text.tokenizer is \"", kWordPiece,
          "\"; set text.tokenizer: \"", kSentencePiece, "\" to use a SentencePiece model"));
    }
    if (text.vocab_file().empty()) {
      return absl::InvalidArgumentError(
          "text.vocab_file: is empty; a WordPiece text backbone needs its vocab.txt");
    }
    return absl::OkStatus();
  }
  if (kind == kSentencePiece) {
    if (!text.vocab_file().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "text.vocab_file: is set but text.tokenizer is \"", kSentencePiece,
          "\"; a SentencePiece model goes in text.sentencepiece_file"));
    }
    if (text.sentencepiece_file().empty()) {
      return absl::InvalidArgumentError(
          "text.sentencepiece_file: is empty; a SentencePiece text backbone needs its .model");
    }
    if (text.lower_case()) {
      return absl::InvalidArgumentError(
          "text.lower_case: applies to WordPiece only; a SentencePiece model normalizes text "
          "with its own rules");
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("text.tokenizer: must be \"", kWordPiece,
                                                 "\" or \"", kSentencePiece, "\", got \"",
                                                 text.tokenizer(), "\""));
}

absl::StatusOr<std::shared_ptr<const Tokenizer>> LoadTokenizer(const TextConfig& text,
                                                               const std::string& folder) {
  RETURN_IF_ERROR(ValidateTokenizerConfig(text));
  if (KindOf(text) == kWordPiece) return LoadWordPiece(text, folder);
  return LoadSentencePiece(text, folder);
}

}  // namespace adaptd::engine
