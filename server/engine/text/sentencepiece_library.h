// libsentencepiece, reached through the shim of sentencepiece_shim.h that is
// embedded in the binary and loaded, on first use, into a link-map
// namespace of its own (see there for why). Thread-safe.
#ifndef ADAPTD_SERVER_ENGINE_TEXT_SENTENCEPIECE_LIBRARY_H_
#define ADAPTD_SERVER_ENGINE_TEXT_SENTENCEPIECE_LIBRARY_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/engine/text/sentencepiece_shim.h"

namespace adaptd::engine {

// The shim's API, loaded once per process. UNAVAILABLE says why it cannot be
// loaded (no libsentencepiece0, no dlmopen namespace left).
absl::StatusOr<const AdaptdSentencePieceApi*> SentencePieceApi();

// Collects what a shim function passes to its byte sink: for
// AdaptdSpmBytesSink arguments, pass &BytesSink and a std::string*.
void BytesSink(void* context, const char* data, size_t size);

// SentencePieceTrainer's flags (name without "--", value), e.g.
// {"vocab_size", "8000"}, {"model_type", "unigram"}.
using SentencePieceFlags = std::vector<std::pair<std::string, std::string>>;

// The flags that give a model the special pieces BERT-style encoders
// expect: [PAD]=0 as pad, [UNK]=1 as unk, [CLS]=2 as bos, [SEP]=3 as eos and
// the control symbol [MASK]=4 (sentencepiece_tokenizer.h maps them).
SentencePieceFlags BertSpecialPieceFlags();

// Trains a SentencePiece model on `sentences` in process; returns the
// serialized model (a .model file's bytes). `seed` seeds SentencePiece's
// random generator (its sentence sampling and shuffling). SentencePiece logs
// only warnings and errors (to stderr) unless `flags` sets "minloglevel". A
// flag or data SentencePiece refuses is INVALID_ARGUMENT with its message.
absl::StatusOr<std::string> TrainSentencePieceModel(const std::vector<std::string>& sentences,
                                                    const SentencePieceFlags& flags,
                                                    uint32_t seed);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_TEXT_SENTENCEPIECE_LIBRARY_H_
