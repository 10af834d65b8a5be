// Tiny BERT-shaped text encoders written as model folders (TorchScript built
// with torch::jit, no Python, and a vocab.txt), and sentences whose classes
// are told apart by their words, for tests.
#ifndef ADAPTD_TESTS_TEST_UTIL_TEXT_MODELS_H_
#define ADAPTD_TESTS_TEST_UTIL_TEXT_MODELS_H_

#include <cstdint>
#include <string>

namespace adaptd::testing {

struct TinyTextModelOptions {
  std::string name = "words";
  // model.pbtxt's text settings.
  std::string pooling = "mean";
  int max_seq_length = 128;
  bool token_type_ids = false;      // model.pbtxt declares the third input.
  bool encoder_token_types = false;  // The encoder takes it.
  bool lower_case = true;
  int64_t feature_dim = 32;  // What model.pbtxt declares.
  // What the encoder returns: 3 [B,T,D], 2 [B,D] (masked mean inside), 1 [B].
  int output_rank = 3;
  int64_t output_dim = 32;  // D.
  bool write_vocab = true;  // false: model.pbtxt names a vocab.txt that is absent.
  // "wordpiece" (vocab.txt) or "sentencepiece": a SentencePiece model
  // (spm.model) trained on TinySentence texts, each word one piece.
  std::string tokenizer = "wordpiece";
};

// Writes a model folder `dir`: backbone.ts, an encoder of an embedding table
// of input_ids plus positions, a per-token linear+tanh layer, and a second
// one mixed with the masked mean of the first, so that padding never
// changes a token's output and [CLS] sees the whole text; vocab.txt; and
// model.pbtxt. Deterministic.
// With options.tokenizer "sentencepiece", spm.model instead of vocab.txt.
void WriteTinyTextModel(const std::string& dir, const TinyTextModelOptions& options);

// A sentence of class `cls` (0: sports, 1: food, 2: weather): three of the
// class's six words and three shared filler words, mixed case, picked and
// ordered by `instance`; any four consecutive instances use all six.
std::string TinySentence(int cls, int instance);
// A sentence of class `cls` with `words` words (fillers and class words).
std::string TinyLongSentence(int cls, int words);

}  // namespace adaptd::testing

#endif  // ADAPTD_TESTS_TEST_UTIL_TEXT_MODELS_H_
