// Text backbones in the engine: model.pbtxt validation and the load-time
// probe, adaptation and prediction on sentences, and length-bucketed
// batching, over tiny TorchScript encoders built in the test.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "server/engine/batching/batcher.h"
#include "server/engine/engine.h"
#include "server/engine/model/backbone.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/text_models.h"

namespace adaptd::engine {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TinyLongSentence;
using testing::TinySentence;
using testing::TinyTextModelOptions;

constexpr int kWays = 3;

InputRef TextRef(const std::string& text) {
  InputRef ref;
  ref.kind = InputRef::Kind::kText;
  ref.data = text;
  return ref;
}

class TextEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("text_engine_test"); }
  void TearDown() override { fs::remove_all(dir_); }

  absl::StatusOr<std::shared_ptr<Backbone>> Load(const TinyTextModelOptions& options) {
    const std::string folder = absl::StrCat(dir_, "/", options.name);
    testing::WriteTinyTextModel(folder, options);
    return Backbone::Load(folder, c10::Device(c10::kCPU));
  }

  // An engine over one text backbone; batches of up to max_batch_size inputs
  // wait at most `delay` to fill.
  std::unique_ptr<Engine> MakeEngine(std::shared_ptr<Backbone> backbone, int max_batch_size,
                                     absl::Duration delay, std::vector<int>* batch_sizes) {
    Engine::Options options;
    options.device = "cpu";
    options.intra_op_threads = 1;
    options.batching.max_batch_size = max_batch_size;
    options.batching.max_delay = delay;
    if (batch_sizes != nullptr) {
      options.batching.on_batch = [this, batch_sizes](const std::string&, int size) {
        absl::MutexLock lock(&mu_);
        batch_sizes->push_back(size);
      };
    }
    auto engine = Engine::CreateWithBackbones(options, {std::move(backbone)});
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? *std::move(engine) : nullptr;
  }

  // Adapts on `shots` sentences per class, each class labelled by its name.
  absl::StatusOr<AdapterPtr> Adapt(Engine& engine, const std::string& backbone, Method method,
                                   int shots, const std::string& extra = "") {
    texts_.clear();
    for (int c = 0; c < kWays; ++c) {
      for (int i = 0; i < shots; ++i) texts_.push_back(TinySentence(c, i));
    }
    if (!extra.empty()) texts_.push_back(extra);
    Engine::AdaptRequest request;
    request.backbone = backbone;
    request.method = method;
    for (size_t i = 0; i < texts_.size(); ++i) {
      const int cls = i < static_cast<size_t>(kWays * shots) ? static_cast<int>(i) / shots : 0;
      request.support.push_back({absl::StrCat("class", cls), TextRef(texts_[i])});
    }
    return engine.Adapt(request, ctx_);
  }

  std::string dir_;
  absl::Mutex mu_;
  CallContext ctx_;
  std::vector<std::string> texts_;  // The last support set's texts.
};

TEST_F(TextEngineTest, LoadsAndReportsTheTokenizer) {
  TinyTextModelOptions options;
  options.max_seq_length = 64;
  auto backbone = Load(options);
  ASSERT_TRUE(backbone.ok()) << backbone.status();
  const BackboneInfo& info = (*backbone)->info();
  EXPECT_EQ(info.modality, "text");
  EXPECT_EQ(info.feature_dim, 32);
  EXPECT_TRUE(info.input_shape.empty());
  EXPECT_EQ(info.text.tokenizer, "wordpiece");
  EXPECT_EQ(info.text.vocab_size, 33);
  EXPECT_EQ(info.text.max_seq_length, 64);
  EXPECT_EQ(info.text.pooling, "mean");
  EXPECT_TRUE(info.text.lower_case);

  options.name = "pooled";
  options.output_rank = 2;
  auto pooled = Load(options);
  ASSERT_TRUE(pooled.ok()) << pooled.status();
  EXPECT_EQ((*pooled)->info().text.pooling, "none");

  options.name = "typed";
  options.output_rank = 3;
  options.token_type_ids = options.encoder_token_types = true;
  options.pooling = "";
  auto typed = Load(options);
  ASSERT_TRUE(typed.ok()) << typed.status();
  EXPECT_EQ((*typed)->info().text.pooling, "cls");
}

TEST_F(TextEngineTest, RefusesBadModelConfigsNamingTheField) {
  struct Case {
    std::string name;
    void (*edit)(TinyTextModelOptions&);
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"novocab", [](auto& o) { o.write_vocab = false; }, absl::StatusCode::kNotFound,
       "text.vocab_file: "},
      {"pooling", [](auto& o) { o.pooling = "max"; }, absl::StatusCode::kInvalidArgument,
       "text.pooling: must be \"cls\" or \"mean\", got \"max\""},
      {"zerolen", [](auto& o) { o.max_seq_length = 0; }, absl::StatusCode::kInvalidArgument,
       "text.max_seq_length: must be in [2, 8192], got 0"},
      {"hugelen", [](auto& o) { o.max_seq_length = 100000; }, absl::StatusCode::kInvalidArgument,
       "text.max_seq_length: must be in [2, 8192], got 100000"},
      {"dim", [](auto& o) { o.output_dim = 16; }, absl::StatusCode::kFailedPrecondition,
       "feature_dim: model.pbtxt says 32 but the text encoder returned [2,8,16] for input_ids "
       "[2,8]"},
      {"pooleddim", [](auto& o) { o.output_rank = 2, o.output_dim = 24; },
       absl::StatusCode::kFailedPrecondition,
       "feature_dim: model.pbtxt says 32 but the text encoder returned [2,24]"},
      {"rank", [](auto& o) { o.output_rank = 1; }, absl::StatusCode::kFailedPrecondition,
       "backbone_file: the text encoder returned [2] for input_ids [2,8]; expected [2,D] or "
       "[2,8,D]"},
      {"types", [](auto& o) { o.token_type_ids = true; }, absl::StatusCode::kFailedPrecondition,
       "backbone_file: the text encoder failed on input_ids and attention_mask [2,8] and "
       "token_type_ids"},
  };
  for (const auto& c : cases) {
    TinyTextModelOptions options;
    options.name = c.name;
    c.edit(options);
    auto backbone = Load(options);
    ASSERT_FALSE(backbone.ok()) << c.name;
    EXPECT_EQ(backbone.status().code(), c.code) << c.name << ": " << backbone.status();
    EXPECT_THAT(backbone.status().message(), HasSubstr(c.message)) << c.name;
  }
}

TEST_F(TextEngineTest, RefusesAnEmptyVocabFileField) {
  const std::string folder = dir_ + "/empty";
  testing::WriteTinyTextModel(folder, {});
  std::string pbtxt;
  {
    std::ifstream in(folder + "/model.pbtxt");
    pbtxt.assign(std::istreambuf_iterator<char>(in), {});
  }
  pbtxt.replace(pbtxt.find("vocab_file: \"vocab.txt\""), 23, "");
  std::ofstream(folder + "/model.pbtxt") << pbtxt;
  auto backbone = Backbone::Load(folder, c10::Device(c10::kCPU));
  EXPECT_EQ(backbone.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(backbone.status().message(), HasSubstr("text.vocab_file: is empty"));
}

struct AdaptCase {
  std::string pooling;
  int output_rank;
  Method method;
};

void PrintTo(const AdaptCase& c, std::ostream* os) {
  *os << c.pooling << " pooling, rank " << c.output_rank << ", " << MethodName(c.method);
}

class TextAdaptTest : public TextEngineTest, public ::testing::WithParamInterface<AdaptCase> {};

TEST_P(TextAdaptTest, AdaptsOnSentencesAndPredictsHeldOutOnes) {
  TinyTextModelOptions options;
  options.pooling = GetParam().pooling;
  options.output_rank = GetParam().output_rank;
  auto backbone = Load(options);
  ASSERT_TRUE(backbone.ok()) << backbone.status();
  auto engine = MakeEngine(*backbone, 64, absl::Milliseconds(1), nullptr);
  ASSERT_NE(engine, nullptr);
  auto adapter = Adapt(*engine, "words", GetParam().method, 4);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  EXPECT_EQ((*adapter)->info.stats.truncated_inputs, 0);

  std::vector<std::string> held_out;
  for (int c = 0; c < kWays; ++c) {
    for (int i = 20; i < 24; ++i) held_out.push_back(TinySentence(c, i));
  }
  Engine::PredictRequest request;
  request.adapter_id = (*adapter)->info.adapter_id;
  for (const auto& text : held_out) request.inputs.push_back(TextRef(text));
  auto result = engine->Predict(request, ctx_);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->predictions.size(), held_out.size());
  for (size_t i = 0; i < held_out.size(); ++i) {
    EXPECT_EQ(result->predictions[i].label, absl::StrCat("class", i / 4)) << held_out[i];
    EXPECT_FALSE(result->predictions[i].truncated);
  }
  EXPECT_EQ(result->truncated_inputs, 0);
}

INSTANTIATE_TEST_SUITE_P(
    PoolingAndMethods, TextAdaptTest,
    ::testing::Values(AdaptCase{"mean", 3, Method::kPrototype},
                      AdaptCase{"mean", 3, Method::kFinetune},
                      AdaptCase{"cls", 3, Method::kPrototype},
                      AdaptCase{"cls", 3, Method::kFinetune},
                      AdaptCase{"mean", 2, Method::kPrototype},
                      AdaptCase{"mean", 2, Method::kFinetune}),
    [](const auto& info) {
      return absl::StrCat(info.param.pooling, info.param.output_rank == 2 ? "Pooled" : "Tokens",
                          MethodName(info.param.method));
    });

TEST(TextLengthBucketTest, RoundsUpToAPowerOfTwoFrom16CappedAtTheMaximum) {
  EXPECT_EQ(TextLengthBucket(3, 128), 16);
  EXPECT_EQ(TextLengthBucket(16, 128), 16);
  EXPECT_EQ(TextLengthBucket(17, 128), 32);
  EXPECT_EQ(TextLengthBucket(65, 128), 128);
  EXPECT_EQ(TextLengthBucket(102, 128), 128);
  EXPECT_EQ(TextLengthBucket(70, 100), 100);
  EXPECT_EQ(TextLengthBucket(5, 8), 8);
}

// Texts of very different lengths batched together give what each gives alone.
TEST_F(TextEngineTest, LengthBucketedBatchesMatchOneAtATime) {
  TinyTextModelOptions options;
  options.max_seq_length = 128;
  auto backbone = Load(options);
  ASSERT_TRUE(backbone.ok()) << backbone.status();
  const std::vector<std::string> texts = {
      TinySentence(0, 30), TinyLongSentence(1, 100), TinyLongSentence(2, 20),
      TinySentence(1, 31), TinyLongSentence(0, 300), TinyLongSentence(2, 45)};
  const int n = static_cast<int>(texts.size());
  // One at a time: batches of one. Batched: a batch flushes only when all
  // n Predicts are queued (the delay is far longer than the test).
  auto alone = MakeEngine(*backbone, 1, absl::Milliseconds(1), nullptr);
  std::vector<int> batch_sizes;
  auto batched = MakeEngine(*backbone, n, absl::Minutes(10), &batch_sizes);
  ASSERT_TRUE(alone && batched);
  auto adapter_alone = Adapt(*alone, "words", Method::kPrototype, 3);
  auto adapter_batched = Adapt(*batched, "words", Method::kPrototype, 3);
  ASSERT_TRUE(adapter_alone.ok() && adapter_batched.ok());

  std::vector<Engine::PredictRequest> requests(texts.size());
  std::vector<absl::StatusOr<Engine::PredictResult>> results(texts.size(),
                                                             absl::UnknownError("not run"));
  std::vector<absl::Notification> done(texts.size());
  for (int i = 0; i < n; ++i) {
    requests[i].adapter_id = (*adapter_batched)->info.adapter_id;
    requests[i].inputs.push_back(TextRef(texts[i]));
    batched->PredictAsync(requests[i], ctx_, [&, i](absl::StatusOr<Engine::PredictResult> r) {
      results[i] = std::move(r);
      done[i].Notify();
    });
  }
  for (auto& d : done) d.WaitForNotification();
  {
    absl::MutexLock lock(&mu_);
    EXPECT_THAT(batch_sizes, ::testing::Contains(n));
  }
  for (int i = 0; i < n; ++i) {
    Engine::PredictRequest one;
    one.adapter_id = (*adapter_alone)->info.adapter_id;
    one.inputs.push_back(TextRef(texts[i]));
    auto expected = alone->Predict(one, ctx_);
    ASSERT_TRUE(expected.ok() && results[i].ok()) << i;
    const Prediction& got = results[i]->predictions.at(0);
    const Prediction& want = expected->predictions.at(0);
    EXPECT_EQ(got.label, want.label) << i;
    ASSERT_EQ(got.scores.size(), want.scores.size());
    for (size_t k = 0; k < got.scores.size(); ++k) {
      EXPECT_EQ(got.scores[k].label, want.scores[k].label) << i;
      EXPECT_NEAR(got.scores[k].probability, want.scores[k].probability, 1e-5) << i;
    }
    // Only the 300-word text is longer than max_seq_length.
    EXPECT_EQ(got.truncated, i == 4) << i;
    EXPECT_EQ(results[i]->truncated_inputs, i == 4 ? 1 : 0) << i;
  }
}

TEST_F(TextEngineTest, CountsTruncatedSupportTexts) {
  TinyTextModelOptions options;
  options.max_seq_length = 16;
  auto backbone = Load(options);
  ASSERT_TRUE(backbone.ok()) << backbone.status();
  auto engine = MakeEngine(*backbone, 64, absl::Milliseconds(1), nullptr);
  auto adapter = Adapt(*engine, "words", Method::kPrototype, 2, TinyLongSentence(0, 40));
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  EXPECT_EQ((*adapter)->info.stats.truncated_inputs, 1);
}

// A TorchScript encoder over a SentencePiece model's ids, served end to end:
// ListBackbones' tokenizer fields, Adapt, Predict and truncation.
TEST_F(TextEngineTest, ServesASentencePieceBackbone) {
  TinyTextModelOptions options;
  options.name = "pieces";
  options.tokenizer = "sentencepiece";
  options.max_seq_length = 16;
  auto backbone = Load(options);
  ASSERT_TRUE(backbone.ok()) << backbone.status();
  const BackboneInfo& info = (*backbone)->info();
  EXPECT_EQ(info.text.tokenizer, "sentencepiece");
  EXPECT_EQ(info.text.vocab_size, (*backbone)->tokenizer()->vocab_size());
  EXPECT_GT(info.text.vocab_size, 30);
  EXPECT_FALSE(info.text.lower_case);
  EXPECT_EQ((*backbone)->pad_id(), 0);

  auto engine = MakeEngine(*backbone, 64, absl::Milliseconds(1), nullptr);
  ASSERT_NE(engine, nullptr);
  auto adapter = Adapt(*engine, "pieces", Method::kPrototype, 4);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  Engine::PredictRequest request;
  request.adapter_id = (*adapter)->info.adapter_id;
  std::vector<std::string> held_out;
  for (int c = 0; c < kWays; ++c) {
    for (int i = 20; i < 24; ++i) held_out.push_back(TinySentence(c, i));
  }
  held_out.push_back(TinyLongSentence(1, 40));
  for (const auto& text : held_out) request.inputs.push_back(TextRef(text));
  auto result = engine->Predict(request, ctx_);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->predictions.size(), held_out.size());
  for (size_t i = 0; i + 1 < held_out.size(); ++i) {
    EXPECT_EQ(result->predictions[i].label, absl::StrCat("class", i / 4)) << held_out[i];
    EXPECT_FALSE(result->predictions[i].truncated) << held_out[i];
  }
  EXPECT_EQ(result->predictions.back().label, "class1");
  EXPECT_TRUE(result->predictions.back().truncated);
  EXPECT_EQ(result->truncated_inputs, 1);
}

}  // namespace
}  // namespace adaptd::engine
