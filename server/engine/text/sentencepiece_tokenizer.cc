#include "server/engine/text/sentencepiece_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "server/engine/text/sentencepiece_library.h"
#include "server/engine/text/unicode_chars.h"

namespace adaptd::engine {
namespace {

void AppendIds(void* context, const int* ids, size_t size) {
  static_cast<std::vector<int32_t>*>(context)->assign(ids, ids + size);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::Create(
    const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("sentencepiece model path: empty");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, " does not exist"));
  }
  ASSIGN_OR_RETURN(std::string model, ReadFile(path));
  return CreateFromModel(std::move(model), path);
}

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::CreateFromModel(
    std::string model, absl::string_view name) {
  ASSIGN_OR_RETURN(const AdaptdSentencePieceApi* api, SentencePieceApi());
  void* processor = nullptr;
  std::string error;
  if (api->load(model.data(), model.size(), &processor, &BytesSink, &error) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": not a SentencePiece model (", error, ")"));
  }
  std::unique_ptr<SentencePieceTokenizer> tokenizer(new SentencePieceTokenizer(api, processor));
  tokenizer->Index();
  if (tokenizer->special_ids_.unk < 0 || tokenizer->pieces_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": the SentencePiece model has no unk piece"));
  }
  return tokenizer;
}

SentencePieceTokenizer::~SentencePieceTokenizer() { api_->release(processor_); }

void SentencePieceTokenizer::Index() {
  const int size = api_->num_pieces(processor_);
  pieces_.resize(static_cast<size_t>(std::max(size, 0)));
  for (int id = 0; id < size; ++id) {
    api_->piece(processor_, id, &BytesSink, &pieces_[static_cast<size_t>(id)]);
  }
  // pieces_ no longer grows, so the views stay valid.
  for (size_t id = 0; id < pieces_.size(); ++id) {
    ids_.emplace(pieces_[id], static_cast<int32_t>(id));
  }
  int model_ids[4];  // unk, bos, eos, pad.
  api_->special_ids(processor_, model_ids);
  const auto piece_or = [&](absl::string_view piece, int fallback) -> int32_t {
    return TokenId(piece).value_or(fallback >= 0 && fallback < size ? fallback : -1);
  };
  special_ids_.unk = model_ids[0] >= 0 && model_ids[0] < size ? model_ids[0] : -1;
  special_ids_.cls = piece_or("[CLS]", model_ids[1]);
  special_ids_.sep = piece_or("[SEP]", model_ids[2]);
  special_ids_.pad = piece_or("[PAD]", model_ids[3]);
  special_ids_.mask = piece_or("[MASK]", -1);
}

std::optional<int32_t> SentencePieceTokenizer::TokenId(absl::string_view token) const {
  auto it = ids_.find(token);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::vector<int32_t>> SentencePieceTokenizer::Pieces(absl::string_view text,
                                                                    absl::string_view field) const {
  // SentencePiece would quietly replace ill-formed UTF-8; the API refuses it.
  RETURN_IF_ERROR(unicode::DecodeUtf8(text, field).status());
  std::vector<int32_t> ids;
  std::string error;
  if (api_->encode(processor_, text.data(), text.size(), &AppendIds, &ids, &BytesSink, &error) !=
      0) {
    return absl::InternalError(absl::StrCat(field, ": sentencepiece: ", error));
  }
  return ids;
}

absl::StatusOr<std::string> SentencePieceTokenizer::Decode(const std::vector<int32_t>& ids) const {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size()) {
      return absl::InvalidArgumentError(absl::StrCat("ids[", i, "]: ", ids[i],
                                                     " is not in [0, ", vocab_size(), ")"));
    }
  }
  std::vector<int> model_ids(ids.begin(), ids.end());
  std::string text, error;
  if (api_->decode(processor_, model_ids.data(), model_ids.size(), &BytesSink, &text, &BytesSink,
                   &error) != 0) {
    return absl::InternalError(absl::StrCat("sentencepiece: ", error));
  }
  return text;
}

}  // namespace adaptd::engine
