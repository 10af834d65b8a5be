#include "train/vocab.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/engine/text/sentencepiece_library.h"

namespace adaptd::train {
namespace {

// The longest text SentencePiece reads (its default would skip texts over
// 4192 bytes); text sets refuse longer ones anyway (TextLoadOptions).
constexpr int kMaxSentenceBytes = 16384;
// The five special pieces, plus room for at least a few characters.
constexpr int kMinVocabSize = 8;

absl::Status CheckOptions(const std::vector<std::string>& texts, const VocabOptions& o) {
  if (texts.empty()) return absl::InvalidArgumentError("data: no texts to train a vocabulary on");
  if (o.vocab_size < kMinVocabSize) {
    return absl::InvalidArgumentError(absl::StrCat("vocab_size: must be at least ", kMinVocabSize,
                                                   " (5 special pieces), got ", o.vocab_size));
  }
  if (o.model_type != "unigram" && o.model_type != "bpe") {
    return absl::InvalidArgumentError(
        absl::StrCat("model_type: must be unigram or bpe, got \"", o.model_type, "\""));
  }
  if (!(o.character_coverage > 0 && o.character_coverage <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "character_coverage: must be in (0, 1], got ", o.character_coverage));
  }
  const std::vector<std::string> rules = {"nmt_nfkc", "nmt_nfkc_cf", "nfkc", "nfkc_cf", "identity"};
  if (std::find(rules.begin(), rules.end(), o.normalization) == rules.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "normalization: must be nmt_nfkc, nmt_nfkc_cf, nfkc, nfkc_cf or identity, got \"",
        o.normalization, "\""));
  }
  if (o.threads < 1) {
    return absl::InvalidArgumentError(absl::StrCat("threads: must be at least 1, got ", o.threads));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> TrainVocab(const std::vector<std::string>& texts,
                                       const VocabOptions& options) {
  RETURN_IF_ERROR(CheckOptions(texts, options));
  engine::SentencePieceFlags flags = engine::BertSpecialPieceFlags();
  flags.push_back({"vocab_size", absl::StrCat(options.vocab_size)});
  flags.push_back({"model_type", options.model_type});
  flags.push_back({"character_coverage", absl::StrCat(options.character_coverage)});
  flags.push_back({"normalization_rule_name", options.normalization});
  flags.push_back({"num_threads", absl::StrCat(options.threads)});
  flags.push_back({"max_sentence_length", absl::StrCat(kMaxSentenceBytes)});
  // SentencePiece's seed is 32 bits; fold the upper half in.
  const auto seed = static_cast<uint32_t>(options.seed ^ (options.seed >> 32));
  auto model = engine::TrainSentencePieceModel(texts, flags, seed);
  if (!model.ok() && absl::StrContains(model.status().message(), "ocabulary size")) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocab_size: ", options.vocab_size, " is too large for these texts (",
                     model.status().message(), ")"));
  }
  return model;
}

absl::StatusOr<VocabStats> MeasureVocab(const engine::Tokenizer& tokenizer,
                                        const std::vector<std::string>& texts) {
  VocabStats stats;
  int64_t pieces = 0, unknown = 0;
  const int32_t unk = tokenizer.special_ids().unk;
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                     tokenizer.Tokenize(texts[i], absl::StrCat("texts[", i, "]")));
    pieces += static_cast<int64_t>(ids.size());
    unknown += std::count(ids.begin(), ids.end(), unk);
  }
  stats.texts = static_cast<int64_t>(texts.size());
  if (stats.texts > 0) stats.pieces_per_text = static_cast<double>(pieces) / stats.texts;
  if (pieces > 0) stats.unknown_fraction = static_cast<double>(unknown) / pieces;
  return stats;
}

}  // namespace adaptd::train
