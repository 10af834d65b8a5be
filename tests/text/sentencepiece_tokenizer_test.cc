// SentencePiece models through the Tokenizer interface: models trained here
// in process (libsentencepiece, through its embedded shim), their special
// ids, [CLS] ... [SEP] encoding, truncation, round trips, and the
// model.pbtxt errors of LoadTokenizer for both tokenizer kinds.
#include "server/engine/text/sentencepiece_tokenizer.h"


#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/engine/text/load_tokenizer.h"
#include "server/engine/text/sentencepiece_library.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Sentences over a few dozen English words, so that a model of 60 pieces
// learns whole words and common pieces.
std::vector<std::string> Corpus() {
  const std::vector<std::string> words = {
      "the",     "quick",   "brown",  "fox",    "jumps",   "over",   "lazy",   "dog",
      "rain",    "falls",   "on",     "green",  "hills",   "bread",  "bakes",  "in",
      "warm",    "ovens",   "players", "score", "goals",   "during", "winter", "games",
      "cheese",  "melts",   "slowly", "storms", "arrive",  "before", "noon",   "teams",
      "practise", "daily"};
  std::vector<std::string> sentences;
  for (int i = 0; i < 400; ++i) {
    std::vector<std::string> sentence;
    for (int j = 0; j < 6 + i % 5; ++j) sentence.push_back(words[(i * 7 + j * 13) % words.size()]);
    sentences.push_back(absl::StrJoin(sentence, " "));
  }
  return sentences;
}

// A trained model's bytes: BERT-style specials unless `flags` replaces them.
std::string TrainModel(SentencePieceFlags flags = BertSpecialPieceFlags(),
                       const std::string& model_type = "unigram", int vocab_size = 60) {
  flags.push_back({"model_type", model_type});
  flags.push_back({"vocab_size", std::to_string(vocab_size)});
  auto model = TrainSentencePieceModel(Corpus(), flags, /*seed=*/7);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : "";
}

const std::string& BertStyleModel() {
  static const auto* model = new std::string(TrainModel());
  return *model;
}

std::unique_ptr<SentencePieceTokenizer> Load(const std::string& model) {
  auto tokenizer = SentencePieceTokenizer::CreateFromModel(model, "test.model");
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(*tokenizer) : nullptr;
}

// A fresh folder, removed when the test exits.
std::string TempFolder(const std::string& name) {
  return adaptd::testing::MakeTempDir(absl::StrCat("spm_", name, "_"));
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(SentencePieceTokenizerTest, TrainedModelHasBertStyleSpecialIds) {
  auto tokenizer = Load(BertStyleModel());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->kind(), "sentencepiece");
  EXPECT_EQ(tokenizer->vocab_size(), 60);
  const SpecialTokenIds& special = tokenizer->special_ids();
  EXPECT_EQ(special.pad, 0);
  EXPECT_EQ(special.unk, 1);
  EXPECT_EQ(special.cls, 2);
  EXPECT_EQ(special.sep, 3);
  EXPECT_EQ(special.mask, 4);
  EXPECT_EQ(tokenizer->Token(2), "[CLS]");
  EXPECT_EQ(tokenizer->TokenId("[MASK]"), 4);
  EXPECT_EQ(tokenizer->TokenId("not-a-piece"), std::nullopt);
  EXPECT_EQ(tokenizer->pad_id(), 0);
}

TEST(SentencePieceTokenizerTest, EncodeWrapsInClsSepAndTruncates) {
  auto tokenizer = Load(BertStyleModel());
  ASSERT_NE(tokenizer, nullptr);
  auto pieces = tokenizer->Tokenize("the quick brown fox jumps over the lazy dog");
  ASSERT_TRUE(pieces.ok()) << pieces.status();
  ASSERT_GE(pieces->size(), 9u);
  for (int32_t id : *pieces) {
    EXPECT_GT(id, 4) << "a text piece must not be a special: " << tokenizer->Token(id);
  }

  auto full = tokenizer->Encode("the quick brown fox jumps over the lazy dog", 128);
  ASSERT_TRUE(full.ok()) << full.status();
  std::vector<int32_t> expected = {2};
  expected.insert(expected.end(), pieces->begin(), pieces->end());
  expected.push_back(3);
  EXPECT_EQ(full->ids, expected);
  EXPECT_EQ(full->attention_mask, std::vector<int32_t>(expected.size(), 1));
  EXPECT_FALSE(full->truncated());

  auto cut = tokenizer->Encode("the quick brown fox jumps over the lazy dog", 5);
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_THAT(cut->ids, ElementsAre(2, (*pieces)[0], (*pieces)[1], (*pieces)[2], 3));
  EXPECT_EQ(cut->num_truncated, static_cast<int64_t>(pieces->size()) - 3);

  TextEncodeOptions padded;
  padded.pad_to_max_length = true;
  auto pad = tokenizer->Encode("fox", 8, padded);
  ASSERT_TRUE(pad.ok()) << pad.status();
  ASSERT_EQ(pad->ids.size(), 8u);
  EXPECT_EQ(pad->ids.back(), 0);
  EXPECT_EQ(pad->attention_mask.back(), 0);
  EXPECT_EQ(pad->attention_mask.front(), 1);
}

TEST(SentencePieceTokenizerTest, DecodeRoundTripsTrainedText) {
  auto tokenizer = Load(BertStyleModel());
  ASSERT_NE(tokenizer, nullptr);
  for (const std::string& text : {std::string("rain falls on green hills"),
                                  std::string("cheese melts slowly before noon"),
                                  std::string("teams practise daily")}) {
    auto pieces = tokenizer->Tokenize(text);
    ASSERT_TRUE(pieces.ok()) << pieces.status();
    auto decoded = tokenizer->Decode(*pieces);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, text);
    // The specials are control pieces: they decode to nothing.
    auto encoded = tokenizer->Encode(text, 64);
    ASSERT_TRUE(encoded.ok());
    EXPECT_EQ(*tokenizer->Decode(encoded->ids), text);
  }
  EXPECT_EQ(tokenizer->Decode({60}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SentencePieceTokenizerTest, UnseenCharactersBecomeUnknownAndInvalidUtf8IsRefused) {
  auto tokenizer = Load(BertStyleModel());
  ASSERT_NE(tokenizer, nullptr);
  auto pieces = tokenizer->Tokenize("fox 我");
  ASSERT_TRUE(pieces.ok()) << pieces.status();
  EXPECT_THAT(*pieces, ::testing::Contains(1));  // [UNK]

  TextEncodeOptions options;
  options.field = "inputs[2].text";
  auto bad = tokenizer->Encode("ab\xff", 8, options);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "inputs[2].text: invalid UTF-8 at byte 2");
  EXPECT_THAT(std::string(tokenizer->Encode("fox", 1).status().message()),
              StartsWith("max_length:"));
}

TEST(SentencePieceTokenizerTest, BpeModelAndDefaultSpecialsMapToBosAndEos) {
  // SentencePiece's defaults: <unk>=0, <s>=1, </s>=2, no pad.
  auto tokenizer = Load(TrainModel({}, "bpe", 80));
  ASSERT_NE(tokenizer, nullptr);
  const SpecialTokenIds& special = tokenizer->special_ids();
  EXPECT_EQ(special.unk, 0);
  EXPECT_EQ(special.cls, 1);
  EXPECT_EQ(special.sep, 2);
  EXPECT_EQ(special.pad, -1);
  EXPECT_EQ(tokenizer->pad_id(), 0);
  auto encoded = tokenizer->Encode("lazy dog", 16);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(encoded->ids.front(), 1);
  EXPECT_EQ(encoded->ids.back(), 2);
  TextEncodeOptions padded;
  padded.pad_to_max_length = true;
  EXPECT_EQ(tokenizer->Encode("dog", 8, padded).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SentencePieceTokenizerTest, ModelWithoutBosOrEosEncodesPiecesOnly) {
  auto tokenizer = Load(TrainModel({{"bos_id", "-1"}, {"eos_id", "-1"}}));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->special_ids().cls, -1);
  EXPECT_EQ(tokenizer->special_ids().sep, -1);
  auto pieces = tokenizer->Tokenize("green hills");
  auto encoded = tokenizer->Encode("green hills", 16);
  ASSERT_TRUE(pieces.ok() && encoded.ok());
  EXPECT_EQ(encoded->ids, *pieces);
}

TEST(SentencePieceTokenizerTest, ConcurrentEncodesAgree) {
  auto tokenizer = Load(BertStyleModel());
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<std::string> texts = Corpus();
  std::vector<std::vector<int32_t>> expected;
  for (int i = 0; i < 50; ++i) expected.push_back(tokenizer->Encode(texts[i], 64)->ids);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < 50; ++i) {
          auto got = tokenizer->Encode(texts[i], 64);
          if (!got.ok() || got->ids != expected[i]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

TEST(SentencePieceTokenizerTest, TrainingRefusesImpossibleVocabSize) {
  auto model = TrainSentencePieceModel(Corpus(), {{"vocab_size", "100000"}}, 1);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("ocabulary size"));
}

// model.pbtxt's tokenizer fields, through LoadTokenizer.
class LoadTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempFolder(::testing::UnitTest::GetInstance()->current_test_info()->name());
    WriteFile(dir_ + "/spm.model", BertStyleModel());
    WriteFile(dir_ + "/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nfox\n");
    WriteFile(dir_ + "/garbage.model", "this is not a model");
  }
  absl::Status Error(const v1::TextConfig& text) { return LoadTokenizer(text, dir_).status(); }
  std::string dir_;
};

TEST_F(LoadTokenizerTest, LoadsEitherKindBehindTheInterface) {
  v1::TextConfig wordpiece;
  wordpiece.set_vocab_file("vocab.txt");
  auto wp = LoadTokenizer(wordpiece, dir_);
  ASSERT_TRUE(wp.ok()) << wp.status();
  EXPECT_EQ((*wp)->kind(), "wordpiece");
  EXPECT_EQ((*wp)->vocab_size(), 5);
  EXPECT_THAT((*wp)->Encode("fox", 8)->ids, ElementsAre(2, 4, 3));

  v1::TextConfig sentencepiece;
  sentencepiece.set_tokenizer("sentencepiece");
  sentencepiece.set_sentencepiece_file("spm.model");
  auto sp = LoadTokenizer(sentencepiece, dir_);
  ASSERT_TRUE(sp.ok()) << sp.status();
  EXPECT_EQ((*sp)->kind(), "sentencepiece");
  EXPECT_EQ((*sp)->vocab_size(), 60);
  EXPECT_EQ((*sp)->Encode("fox", 8)->ids.front(), 2);
}

TEST_F(LoadTokenizerTest, BadConfigsNameTheField) {
  v1::TextConfig text;
  text.set_tokenizer("bpe");
  EXPECT_THAT(std::string(Error(text).message()), StartsWith("text.tokenizer: must be"));

  text.set_tokenizer("sentencepiece");
  EXPECT_THAT(std::string(Error(text).message()), StartsWith("text.sentencepiece_file: is empty"));

  text.set_sentencepiece_file("missing.model");
  EXPECT_EQ(Error(text).code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(Error(text).message()), StartsWith("text.sentencepiece_file: "));

  text.set_sentencepiece_file("garbage.model");
  EXPECT_EQ(Error(text).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(Error(text).message()), HasSubstr("not a SentencePiece model"));

  text.set_sentencepiece_file("spm.model");
  text.set_vocab_file("vocab.txt");
  EXPECT_THAT(std::string(Error(text).message()), StartsWith("text.vocab_file: is set but"));

  text.clear_vocab_file();
  text.set_lower_case(true);
  EXPECT_THAT(std::string(Error(text).message()), StartsWith("text.lower_case: "));

  v1::TextConfig wordpiece;
  wordpiece.set_sentencepiece_file("spm.model");
  EXPECT_THAT(std::string(Error(wordpiece).message()),
              StartsWith("text.sentencepiece_file: is set but text.tokenizer is \"wordpiece\""));
  wordpiece.clear_sentencepiece_file();
  EXPECT_THAT(std::string(Error(wordpiece).message()), StartsWith("text.vocab_file: is empty"));
}

TEST_F(LoadTokenizerTest, FilesInTheWrongFieldSaySo) {
  v1::TextConfig model_as_vocab;
  model_as_vocab.set_vocab_file("spm.model");
  const absl::Status wrong_vocab = Error(model_as_vocab);
  EXPECT_EQ(wrong_vocab.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong_vocab.message()),
              AllOf(StartsWith("text.vocab_file: "), HasSubstr("is a SentencePiece model")));

  v1::TextConfig vocab_as_model;
  vocab_as_model.set_tokenizer("sentencepiece");
  vocab_as_model.set_sentencepiece_file("vocab.txt");
  const absl::Status wrong_model = Error(vocab_as_model);
  EXPECT_EQ(wrong_model.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong_model.message()),
              AllOf(StartsWith("text.sentencepiece_file: "), HasSubstr("text.vocab_file")));
}

}  // namespace
}  // namespace adaptd::engine
