#include "tests/test_util/text_models.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <vector>

#include <google/protobuf/text_format.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adaptd/v1/model_config.pb.h"
#include "server/engine/text/sentencepiece_library.h"
#include "server/engine/text/sentencepiece_tokenizer.h"

namespace adaptd::testing {
namespace {

const std::vector<std::vector<std::string>>& ClassWords() {
  static const auto* words = new std::vector<std::vector<std::string>>{
      {"football", "goal", "team", "match", "score", "coach"},
      {"pizza", "pasta", "cheese", "bread", "soup", "salad"},
      {"rain", "snow", "wind", "storm", "sunny", "cloud"}};
  return *words;
}

const std::vector<std::string>& Fillers() {
  static const auto* words =
      new std::vector<std::string>{"the", "a", "was", "today", "very", "and", "we", "saw"};
  return *words;
}

std::vector<std::string> Vocab() {
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","};
  for (const auto& words : ClassWords()) vocab.insert(vocab.end(), words.begin(), words.end());
  vocab.insert(vocab.end(), Fillers().begin(), Fillers().end());
  return vocab;
}

// The encoder's TorchScript source for `options`.
std::string EncoderSource(const TinyTextModelOptions& options) {
  const std::string args = options.encoder_token_types
                               ? "input_ids, attention_mask, token_type_ids"
                               : "input_ids, attention_mask";
  const std::string types =
      options.encoder_token_types ? "    x = x + torch.embedding(self.types, token_type_ids)\n"
                                  : "";
  std::string out = "h";
  if (options.output_rank == 2) out = "(h * m).sum(1) / m.sum(1).clamp(min=1.0)";
  if (options.output_rank == 1) out = "h.sum(2).sum(1)";
  return absl::StrCat("def forward(self, ", args, "):\n",
                      "    t = input_ids.size(1)\n",
                      "    x = torch.embedding(self.emb, input_ids) + self.pos[:t].unsqueeze(0)\n",
                      types,
                      "    m = attention_mask.unsqueeze(2).to(x.dtype)\n",
                      "    h = torch.tanh(torch.matmul(x, self.w1))\n",
                      "    c = (h * m).sum(1) / m.sum(1).clamp(min=1.0)\n",
                      "    h = torch.tanh(torch.matmul(h, self.w2) + ",
                      "torch.matmul(c, self.w3).unsqueeze(1))\n",
                      "    return ", out, "\n");
}

void WriteConfig(const std::string& dir, const TinyTextModelOptions& options) {
  adaptd::v1::ModelConfig config;
  config.set_name(options.name);
  config.set_modality("text");
  config.set_format("torchscript");
  config.set_backbone_file("backbone.ts");
  config.set_feature_dim(options.feature_dim);
  auto* text = config.mutable_text();
  if (options.tokenizer == "sentencepiece") {
    text->set_tokenizer("sentencepiece");
    text->set_sentencepiece_file("spm.model");
  } else {
    text->set_vocab_file("vocab.txt");
    text->set_lower_case(options.lower_case);
  }
  text->set_max_seq_length(options.max_seq_length);
  text->set_pooling(options.pooling);
  text->set_token_type_ids(options.token_type_ids);
  std::string pbtxt;
  google::protobuf::TextFormat::PrintToString(config, &pbtxt);
  std::ofstream(std::filesystem::path(dir) / "model.pbtxt") << pbtxt;
}

// Writes dir/spm.model, a case-folding SentencePiece model of TinySentence
// texts in which every class word and filler is one piece, and returns its
// pieces by id.
std::vector<std::string> WriteSentencePieceModel(const std::string& dir) {
  std::vector<std::string> sentences, words;
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 40; ++i) sentences.push_back(TinySentence(c, i));
    words.insert(words.end(), ClassWords()[c].begin(), ClassWords()[c].end());
  }
  words.insert(words.end(), Fillers().begin(), Fillers().end());
  engine::SentencePieceFlags flags = engine::BertSpecialPieceFlags();
  flags.push_back({"user_defined_symbols", absl::StrJoin(words, ",")});
  flags.push_back({"normalization_rule_name", "nmt_nfkc_cf"});
  flags.push_back({"vocab_size", "100"});
  flags.push_back({"hard_vocab_limit", "false"});
  auto model = engine::TrainSentencePieceModel(sentences, flags, 17);
  if (!model.ok()) throw std::runtime_error(std::string(model.status().message()));
  std::ofstream(std::filesystem::path(dir) / "spm.model", std::ios::binary) << *model;
  auto tokenizer = engine::SentencePieceTokenizer::CreateFromModel(*model, "spm.model");
  if (!tokenizer.ok()) throw std::runtime_error(std::string(tokenizer.status().message()));
  std::vector<std::string> pieces;
  for (int32_t id = 0; id < (*tokenizer)->vocab_size(); ++id) {
    pieces.push_back((*tokenizer)->Token(id));
  }
  return pieces;
}

// The row of `word` in `vocab`; -1 if none.
int64_t RowOf(const std::vector<std::string>& vocab, const std::string& word) {
  for (size_t i = 0; i < vocab.size(); ++i) {
    if (vocab[i] == word) return static_cast<int64_t>(i);
  }
  return -1;
}

}  // namespace

void WriteTinyTextModel(const std::string& dir, const TinyTextModelOptions& options) {
  std::filesystem::create_directories(dir);
  const bool sentencepiece = options.tokenizer == "sentencepiece";
  const std::vector<std::string> vocab = sentencepiece ? WriteSentencePieceModel(dir) : Vocab();
  constexpr int64_t kHidden = 32;
  torch::manual_seed(17);
  torch::jit::Module module("TinyTextEncoder");
  const int64_t v = static_cast<int64_t>(vocab.size());
  // A class's words share a topic direction and carry the signal; special
  // tokens, punctuation and fillers little, as in an encoder trained to
  // tell topics apart.
  torch::Tensor emb = torch::randn({v, kHidden}) * 0.2;
  constexpr int64_t kWordsPerClass = 6;
  for (size_t c = 0; c < 3; ++c) {
    const torch::Tensor topic = torch::randn({1, kHidden});
    const torch::Tensor rows = topic + torch::randn({kWordsPerClass, kHidden}) * 0.5;
    for (int64_t k = 0; k < kWordsPerClass; ++k) {
      const int64_t row = RowOf(vocab, ClassWords()[c][static_cast<size_t>(k)]);
      if (row >= 0) emb[row] = rows[k];
    }
  }
  module.register_parameter("emb", emb, false);
  module.register_parameter("pos", torch::randn({512, kHidden}) * 0.1, false);
  module.register_parameter("types", torch::randn({2, kHidden}) * 0.1, false);
  const double scale = 1.0 / std::sqrt(static_cast<double>(kHidden));
  module.register_parameter("w1", torch::randn({kHidden, kHidden}) * scale, false);
  module.register_parameter("w2", torch::randn({kHidden, options.output_dim}) * scale, false);
  module.register_parameter("w3", torch::randn({kHidden, options.output_dim}) * scale, false);
  module.define(EncoderSource(options));
  module.save((std::filesystem::path(dir) / "backbone.ts").string());
  if (options.write_vocab && !sentencepiece) {
    std::ofstream(std::filesystem::path(dir) / "vocab.txt") << absl::StrJoin(vocab, "\n") << "\n";
  }
  WriteConfig(dir, options);
}

std::string TinySentence(int cls, int instance) {
  std::mt19937 rng(static_cast<uint32_t>(cls * 1000 + instance));
  const auto& words = ClassWords()[static_cast<size_t>(cls)];
  std::vector<std::string> fillers = Fillers();
  std::shuffle(fillers.begin(), fillers.end(), rng);
  // Consecutive instances cover every class word: i, i+1, i+2 or i, i+2, i+4.
  std::vector<std::string> sentence;
  for (int k = 0; k < 3; ++k) {
    sentence.push_back(words[static_cast<size_t>(instance + k * (1 + instance % 2)) % 6]);
  }
  sentence.insert(sentence.end(), fillers.begin(), fillers.begin() + 3);
  std::shuffle(sentence.begin(), sentence.end(), rng);
  sentence[0][0] = static_cast<char>(std::toupper(sentence[0][0]));
  return absl::StrCat(absl::StrJoin(sentence, " "), ".");
}

std::string TinyLongSentence(int cls, int words) {
  std::vector<std::string> sentence;
  const auto& class_words = ClassWords()[static_cast<size_t>(cls)];
  for (int i = 0; i < words; ++i) {
    sentence.push_back(i % 2 == 0 ? class_words[static_cast<size_t>(i / 2) % class_words.size()]
                                  : Fillers()[static_cast<size_t>(i / 2) % Fillers().size()]);
  }
  return absl::StrJoin(sentence, " ");
}

}  // namespace adaptd::testing
