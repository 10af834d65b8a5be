// A SentencePiece vocabulary trained on a text set's texts, in process
// (libsentencepiece through the engine's shim), with the special pieces the
// project's text encoders expect: [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3 and
// [MASK]=4 (server/engine/text/sentencepiece_tokenizer.h). No LibTorch.
// Thread-compatible.
//
//   VocabOptions o;
//   o.vocab_size = 8000;
//   ASSIGN_OR_RETURN(std::string model, TrainVocab(SplitClasses(data, Split::kTrain).texts, o));
#ifndef ADAPTD_TRAIN_VOCAB_H_
#define ADAPTD_TRAIN_VOCAB_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/engine/text/tokenizer.h"

namespace adaptd::train {

struct VocabOptions {
  // Pieces in the model, the five specials included.
  int vocab_size = 8000;
  // "unigram" (SentencePiece's default) or "bpe".
  std::string model_type = "unigram";
  // The share of characters the pieces must cover; rarer ones become
  // [UNK]. In (0, 1].
  double character_coverage = 0.9995;
  // SentencePiece's normalization rule: "nmt_nfkc" (NFKC and whitespace
  // clean-up), "nmt_nfkc_cf" (also case-folded), "nfkc" or "identity".
  std::string normalization = "nmt_nfkc";
  // Seeds SentencePiece's random generator; the same texts, options and
  // seed give the same model.
  uint64_t seed = 1;
  // SentencePiece's training threads; part of what fixes the model (its EM
  // sums in a different order with another count).
  int threads = 1;
};

// Trains a model on `texts`; returns the .model file's bytes.
// INVALID_ARGUMENT names the option at fault (vocab_size, model_type, ...)
// or gives SentencePiece's reason (e.g. vocab_size too large for the texts).
absl::StatusOr<std::string> TrainVocab(const std::vector<std::string>& texts,
                                       const VocabOptions& options);

// How a tokenizer cuts a set of texts.
struct VocabStats {
  int64_t texts = 0;
  double pieces_per_text = 0;   // Without [CLS] and [SEP].
  double unknown_fraction = 0;  // Of all pieces, the share that are unk.
};

// VocabStats of `tokenizer` on `texts`; an error where a text fails to
// encode (invalid UTF-8).
absl::StatusOr<VocabStats> MeasureVocab(const engine::Tokenizer& tokenizer,
                                        const std::vector<std::string>& texts);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_VOCAB_H_
