// adapt-train vocab's library: a SentencePiece vocabulary trained on a
// synthetic text set in process, loaded back through the engine's tokenizer
// loader as adaptd loads a model's, and its option errors.
#include "train/vocab.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adaptd/v1/model_config.pb.h"
#include "server/engine/text/load_tokenizer.h"
#include "server/engine/text/sentencepiece_tokenizer.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::train {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::vector<std::string>& Words() {
  static const auto* words = new std::vector<std::string>{
      "river",  "mountain", "forest",  "valley", "glacier", "harbour", "island", "meadow",
      "violin", "trumpet",  "cello",   "drums",  "flute",   "guitar",  "piano",  "organ",
      "carrot", "potato",   "lettuce", "onion",  "pepper",  "garlic",  "celery", "radish"};
  return *words;
}

// `n` sentences of 5 to 9 words, drawn by a fixed rule from Words().
std::vector<std::string> Texts(int n, int offset) {
  std::vector<std::string> texts;
  for (int i = offset; i < offset + n; ++i) {
    std::vector<std::string> words;
    for (int j = 0; j < 5 + i % 5; ++j) words.push_back(Words()[(i * 5 + j * 11) % Words().size()]);
    texts.push_back(absl::StrJoin(words, " "));
  }
  return texts;
}

// Writes `model` into a fresh folder and loads it as a model.pbtxt's
// text block names it.
std::shared_ptr<const engine::Tokenizer> LoadAsAModelWould(const std::string& model,
                                                           const std::string& name) {
  const std::string dir = adaptd::testing::MakeTempDir(absl::StrCat("vocab_", name, "_"));
  std::ofstream(dir + "/spm.model", std::ios::binary) << model;
  v1::TextConfig text;
  text.set_tokenizer("sentencepiece");
  text.set_sentencepiece_file("spm.model");
  auto tokenizer = engine::LoadTokenizer(text, dir);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? *tokenizer : nullptr;
}

TEST(TrainVocabTest, TrainsAVocabularyTheEngineLoadsAndRoundTrips) {
  VocabOptions o;
  o.vocab_size = 48;
  auto model = TrainVocab(Texts(300, 0), o);
  ASSERT_TRUE(model.ok()) << model.status();
  auto tokenizer = LoadAsAModelWould(*model, "unigram");
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->kind(), "sentencepiece");
  EXPECT_EQ(tokenizer->vocab_size(), 48);
  const engine::SpecialTokenIds& special = tokenizer->special_ids();
  EXPECT_EQ(special.pad, 0);
  EXPECT_EQ(special.unk, 1);
  EXPECT_EQ(special.cls, 2);
  EXPECT_EQ(special.sep, 3);
  EXPECT_EQ(special.mask, 4);

  auto* sentencepiece = dynamic_cast<const engine::SentencePieceTokenizer*>(tokenizer.get());
  ASSERT_NE(sentencepiece, nullptr);
  // Texts it was not trained on, of the same words, round-trip too.
  for (const std::string& text : Texts(20, 1000)) {
    auto encoded = tokenizer->Encode(text, 256);
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    EXPECT_EQ(encoded->ids.front(), 2);
    EXPECT_EQ(encoded->ids.back(), 3);
    EXPECT_FALSE(encoded->truncated());
    auto decoded = sentencepiece->Decode(encoded->ids);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, text);
  }
  // Frequent words become single pieces: far fewer pieces than characters.
  auto stats = MeasureVocab(*tokenizer, Texts(50, 2000));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->texts, 50);
  EXPECT_LT(stats->pieces_per_text, 0.5 * Texts(1, 2000)[0].size());
  EXPECT_EQ(stats->unknown_fraction, 0);
  auto unseen = MeasureVocab(*tokenizer, {"river 水 forest"});
  ASSERT_TRUE(unseen.ok());
  EXPECT_GT(unseen->unknown_fraction, 0);
}

TEST(TrainVocabTest, SameSeedSameModelAndBpeWorks) {
  VocabOptions o;
  o.vocab_size = 45;
  o.seed = 5;
  auto first = TrainVocab(Texts(200, 0), o);
  auto second = TrainVocab(Texts(200, 0), o);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);

  o.model_type = "bpe";
  o.normalization = "nmt_nfkc_cf";
  auto bpe = TrainVocab(Texts(200, 0), o);
  ASSERT_TRUE(bpe.ok()) << bpe.status();
  auto tokenizer = LoadAsAModelWould(*bpe, "bpe");
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 45);
  // Case-folded: the same ids whatever the case.
  EXPECT_EQ(tokenizer->Encode("River Forest", 16)->ids, tokenizer->Encode("river forest", 16)->ids);
}

TEST(TrainVocabTest, BadOptionsNameTheOption) {
  const std::vector<std::string> texts = Texts(100, 0);
  auto error = [&](VocabOptions o, const std::vector<std::string>& t) {
    auto model = TrainVocab(t, o);
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(model.status().message());
  };
  VocabOptions o;
  o.vocab_size = 4;
  EXPECT_THAT(error(o, texts), StartsWith("vocab_size: must be at least"));
  o.vocab_size = 100000;
  EXPECT_THAT(error(o, texts), AllOf(StartsWith("vocab_size: 100000 is too large"),
                                     HasSubstr("ocabulary size")));
  o = VocabOptions();
  o.model_type = "wordpiece";
  EXPECT_THAT(error(o, texts), StartsWith("model_type: must be unigram or bpe"));
  o = VocabOptions();
  o.character_coverage = 0;
  EXPECT_THAT(error(o, texts), StartsWith("character_coverage: must be in (0, 1]"));
  o = VocabOptions();
  o.normalization = "lowercase";
  EXPECT_THAT(error(o, texts), StartsWith("normalization: must be"));
  EXPECT_THAT(error(VocabOptions(), {}), StartsWith("data: no texts"));
}

}  // namespace
}  // namespace adaptd::train
