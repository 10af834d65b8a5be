// Pretraining the native text encoder, end to end: a tiny encoder trained in
// the test on synthetic sentence classes, exported, and served by an
// in-process adaptd whose PROTOTYPE adapters answer an episode's queries as
// adapt-train's PROTOTYPE evaluation does, label for label, with the same
// probabilities.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/file_util.h"
#include "tests/test_util/test_server.h"
#include "tests/train/test_data.h"
#include "train/dataset.h"
#include "train/dictionary.h"
#include "train/episodes.h"
#include "train/evaluate.h"
#include "train/export.h"
#include "train/pretrain.h"

namespace adaptd::train {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TempDir;
using adaptd::testing::TestServer;
using adaptd::testing::TestServerOptions;

constexpr char kBackbone[] = "tiny-text";

const std::vector<std::vector<std::string>>& TopicWords() {
  static const auto* words = new std::vector<std::vector<std::string>>{
      {"football", "goal", "team", "match", "score", "coach"},
      {"pizza", "pasta", "cheese", "bread", "soup", "salad"},
      {"rain", "snow", "wind", "storm", "sunny", "cloud"},
      {"guitar", "drum", "song", "piano", "band", "concert"},
      {"train", "plane", "hotel", "ticket", "airport", "luggage"},
      {"doctor", "fever", "nurse", "pill", "clinic", "cough"},
      {"bank", "loan", "money", "price", "budget", "tax"},
      {"teacher", "lesson", "exam", "pupil", "homework", "class"}};
  return *words;
}

const std::vector<std::string>& Fillers() {
  static const auto* words = new std::vector<std::string>{
      "the", "a", "was", "today", "very", "and", "we", "saw", "it", "of"};
  return *words;
}

// A sentence of topic `cls`: `own` of its words, `stray` words of other
// topics and fillers, shuffled by `seed`.
std::string Sentence(int cls, int own, int stray, uint32_t seed) {
  std::mt19937 rng(seed);
  const auto& topics = TopicWords();
  std::vector<std::string> words;
  for (int i = 0; i < own; ++i) words.push_back(topics[cls][rng() % 6]);
  for (int i = 0; i < stray; ++i) {
    const int other = (cls + 1 + static_cast<int>(rng() % (topics.size() - 1))) % topics.size();
    words.push_back(topics[other][rng() % 6]);
  }
  for (int i = 0; i < 3; ++i) words.push_back(Fillers()[rng() % Fillers().size()]);
  std::shuffle(words.begin(), words.end(), rng);
  return absl::StrCat(absl::StrJoin(words, " "), ".");
}

// `per_class` sentences of each topic, each topic its own group.
Dataset TopicSentences(int per_class, int own, int stray, uint32_t seed) {
  Dataset data;
  data.modality = Modality::kText;
  for (size_t c = 0; c < TopicWords().size(); ++c) {
    const int32_t label = data.AddClass(TopicWords()[c][0], data.AddGroup(TopicWords()[c][0]));
    for (int i = 0; i < per_class; ++i) {
      data.AddText(label, Sentence(static_cast<int>(c), own, stray, seed * 7919 + c * 101 + i));
    }
  }
  return data;
}

// A WordPiece vocab.txt of the special tokens and every word above.
std::string WriteVocab(const std::string& dir) {
  const std::string path = dir + "/vocab.txt";
  std::ofstream out(path);
  for (const char* token : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."}) {
    out << token << "\n";
  }
  for (const auto& words : TopicWords()) {
    for (const auto& w : words) out << w << "\n";
  }
  for (const auto& w : Fillers()) out << w << "\n";
  return path;
}

PretrainOptions TinyTextOptions(const std::string& work_dir, const std::string& vocab) {
  PretrainOptions o;
  o.work_dir = work_dir;
  o.text.tokenizer = vocab;
  o.text.dim = 16;
  o.text.layers = 1;
  o.text.heads = 2;
  o.text.max_len = 16;
  o.text.dropout = 0;
  o.epochs = 15;
  o.batch_size = 16;
  o.lr = 3e-3;
  o.warmup_steps = 5;
  o.lr_schedule = "cosine";
  o.dropout = 0.1;
  o.threads = 1;
  o.eval_episodes = 0;
  o.progress = false;
  return o;
}

// The adapter's label for episode label `y`: its class's name.
const std::string& LabelName(const Dataset& data, const Episode& episode, int32_t y) {
  return data.class_names[episode.classes[y]];
}

v1::Input TextInput(const Dataset& data, int64_t i) {
  v1::Input input;
  input.set_text(data.texts[i]);
  return input;
}

// Adapts a PROTOTYPE adapter on the episode's support texts through the
// API and predicts its queries; checks the answers against `expected`.
void ExpectServedAsEvaluated(TestServer& server, const Dataset& data,
                             const EpisodePrediction& expected, int* right, int* wrong) {
  const Episode& e = expected.episode;
  v1::AdaptRequest adapt;
  adapt.set_backbone(kBackbone);
  adapt.set_method(v1::PROTOTYPE);
  for (size_t i = 0; i < e.support.size(); ++i) {
    v1::Example* example = adapt.add_support();
    example->set_label(LabelName(data, e, e.support_labels[i]));
    *example->mutable_input() = TextInput(data, e.support[i]);
  }
  v1::AdaptResponse adapted;
  grpc::ClientContext adapt_ctx;
  const grpc::Status a = server.stub().Adapt(&adapt_ctx, adapt, &adapted);
  ASSERT_TRUE(a.ok()) << a.error_message();
  v1::PredictRequest predict;
  predict.set_adapter_id(adapted.adapter().adapter_id());
  predict.set_top_k(0);
  for (int64_t i : e.query) *predict.add_inputs() = TextInput(data, i);
  v1::PredictResponse served;
  grpc::ClientContext predict_ctx;
  const grpc::Status p = server.stub().Predict(&predict_ctx, predict, &served);
  ASSERT_TRUE(p.ok()) << p.error_message();
  ASSERT_EQ(served.predictions_size(), static_cast<int>(e.query.size()));
  std::map<std::string, int32_t> label_of;
  for (int32_t y = 0; y < static_cast<int32_t>(e.classes.size()); ++y) {
    label_of[LabelName(data, e, y)] = y;
  }
  for (size_t q = 0; q < e.query.size(); ++q) {
    SCOPED_TRACE(absl::StrCat("query ", q, ": ", data.texts[e.query[q]]));
    const v1::Prediction& prediction = served.predictions(static_cast<int>(q));
    EXPECT_EQ(prediction.label(), LabelName(data, e, expected.predicted[q]));
    ASSERT_EQ(prediction.scores_size(), static_cast<int>(e.classes.size()));
    for (const v1::ClassScore& score : prediction.scores()) {
      ASSERT_EQ(label_of.count(score.label()), 1u) << score.label();
      EXPECT_NEAR(score.probability(), expected.probabilities[q][label_of[score.label()]], 1e-4);
    }
    ++*(expected.predicted[q] == e.query_labels[q] ? right : wrong);
  }
}


// Four 5-way 2-shot episodes of new sentences, drawn as training's were:
// adapt-train's PROTOTYPE answers for model folder `model`, then adaptd
// serving `repository` must answer each query the same. Counts the queries
// it gets right and wrong.
void ServeEpisodesAsEvaluated(const std::string& model, const std::string& repository,
                              int* right, int* wrong) {
  const Dataset episodes = TopicSentences(8, 2, 1, 2);
  EpisodeOptions eo;
  eo.ways = 5;
  eo.shots = 2;
  eo.queries = 4;
  eo.seed = 3;
  const auto expected = PrototypePredictions(model, episodes, eo, 4);
  ASSERT_TRUE(expected.ok()) << expected.status();
  TestServerOptions server_options;
  server_options.model_repository = repository;
  TestServer server(server_options);
  for (size_t k = 0; k < expected->size(); ++k) {
    SCOPED_TRACE(absl::StrCat("episode ", k));
    ExpectServedAsEvaluated(server, episodes, (*expected)[k], right, wrong);
  }
}

TEST(TextPretrainTest, TrainedEncoderExportsAndAdaptdAnswersAsEvalDoes) {
  TempDir dir;
  const std::string vocab = WriteVocab(dir.path());
  const Dataset train = TopicSentences(12, 2, 1, 1);  // 8 classes, 96 texts.
  ASSERT_TRUE(train.Validate().ok());
  auto report = Pretrain(train, Dataset(), TinyTextOptions(dir / "pretrain", vocab));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->steps_done, 15 * 6);
  ASSERT_EQ(report->epoch_loss.size(), 15u);
  EXPECT_LT(report->epoch_loss.back(), 0.8 * report->epoch_loss.front())
      << "first " << report->epoch_loss.front() << " last " << report->epoch_loss.back();
  const auto json = nlohmann::json::parse(*ReadFile(dir / "pretrain/report.json"));
  EXPECT_EQ(json["modality"], "text");
  EXPECT_EQ(json["text_encoder"]["vocab_size"], 6 + 8 * 6 + 10);

  ExportOptions export_options;
  export_options.weights = report->weights_path;
  export_options.name = kBackbone;
  export_options.out_dir = dir / absl::StrCat("models/", kBackbone);
  const absl::Status exported = ExportPretrained(export_options);
  ASSERT_TRUE(exported.ok()) << exported;
  EXPECT_TRUE(fs::exists(export_options.out_dir + "/vocab.txt"));
  EXPECT_THAT(*ReadFile(export_options.out_dir + "/model.pbtxt"),
              HasSubstr("format: \"text-transformer\""));

  int right = 0, wrong = 0;
  ServeEpisodesAsEvaluated(export_options.out_dir, dir / "models", &right, &wrong);
  if (::testing::Test::HasFatalFailure()) return;
  // Better than chance (1 in 5): the encoder learned the topics.
  EXPECT_GT(right, 2 * wrong);
  std::printf("eval PROTOTYPE: %d of %d queries right\n", right, right + wrong);
}

// Exports a pretraining run as kBackbone under dir/models, checks that its
// model.pbtxt says each of `lines`, and serves episodes as the trainer
// evaluates them.
void ExportAndServe(const PretrainReport& report, const TempDir& dir,
                    const std::vector<std::string>& lines, int* right, int* wrong) {
  ExportOptions export_options;
  export_options.weights = report.weights_path;
  export_options.name = kBackbone;
  export_options.out_dir = dir / absl::StrCat("models/", kBackbone);
  const absl::Status exported = ExportPretrained(export_options);
  ASSERT_TRUE(exported.ok()) << exported;
  const std::string config = *ReadFile(export_options.out_dir + "/model.pbtxt");
  for (const std::string& line : lines) EXPECT_THAT(config, HasSubstr(line));
  ServeEpisodesAsEvaluated(export_options.out_dir, dir / "models", right, wrong);
}

// With a lexical branch, the idf comes from the training texts, the shape
// reaches model.pbtxt through report.json, and adaptd answers as
// adapt-train's evaluation does. Few steps: the branch's word overlap alone
// tells these topics apart.
TEST(TextPretrainTest, LexicalBranchIsFittedExportedAndServed) {
  TempDir dir;
  const std::string vocab = WriteVocab(dir.path());
  const Dataset train = TopicSentences(12, 2, 1, 1);
  PretrainOptions o = TinyTextOptions(dir / "pretrain", vocab);
  o.epochs = 1;
  o.text.lexical_dim = 256;
  o.text.lexical_weight = 0.9;
  auto report = Pretrain(train, Dataset(), o);
  ASSERT_TRUE(report.ok()) << report.status();
  const auto json = nlohmann::json::parse(*ReadFile(dir / "pretrain/report.json"));
  EXPECT_EQ(json["text_encoder"]["lexical_dim"], 256);
  EXPECT_DOUBLE_EQ(json["text_encoder"]["lexical_weight"].get<double>(), 0.9);

  int right = 0, wrong = 0;
  ExportAndServe(*report, dir, {"feature_dim: 272", "lexical_dim: 256", "lexical_weight: 0.9"},
                 &right, &wrong);
  if (::testing::Test::HasFatalFailure()) return;
  // Well above chance (1 in 5) after one epoch: the topics' words carry it.
  EXPECT_GT(right, wrong);
  std::printf("eval PROTOTYPE with the lexical branch: %d of %d queries right\n", right,
              right + wrong);
}

// The semantic branch's token vectors come from the corpus: here lines that
// use a topic's words together. The transformer barely trains (one epoch)
// and the branch has the whole cosine, yet adaptd tells the topics apart,
// as adapt-train's evaluation does.
TEST(TextPretrainTest, SemanticBranchIsComputedExportedAndServed) {
  TempDir dir;
  const std::string vocab = WriteVocab(dir.path());
  std::vector<std::string> corpus;
  for (int i = 0; i < 400; ++i) {
    const auto& words = TopicWords()[i % TopicWords().size()];
    corpus.push_back(absl::StrCat(words[i % words.size()], " ", words[(i / 8 + 1) % words.size()],
                                  " ", words[(i / 3 + 2) % words.size()]));
  }
  ASSERT_TRUE(WriteLines(corpus, dir / "corpus.txt").ok());
  PretrainOptions o = TinyTextOptions(dir / "pretrain", vocab);
  o.epochs = 1;
  o.text.semantic_dim = 8;
  o.text.semantic_weight = 1;
  o.text.corpus = dir / "corpus.txt";
  auto report = Pretrain(TopicSentences(12, 2, 1, 1), Dataset(), o);
  ASSERT_TRUE(report.ok()) << report.status();
  const auto json = nlohmann::json::parse(*ReadFile(dir / "pretrain/report.json"));
  EXPECT_EQ(json["text_encoder"]["semantic_dim"], 8);

  int right = 0, wrong = 0;
  ExportAndServe(*report, dir, {"feature_dim: 24", "semantic_dim: 8", "semantic_weight: 1"},
                 &right, &wrong);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_GT(right, 2 * wrong);
  std::printf("eval PROTOTYPE with the semantic branch alone: %d of %d queries right\n", right,
              right + wrong);
}

// Both branches with per-text shares, and a transformer reading fewer tokens
// than the branches: report.json carries both settings to model.pbtxt, and
// adaptd answers as adapt-train's evaluation does.
TEST(TextPretrainTest, PositionsAndAgreementAreExportedAndServed) {
  TempDir dir;
  const std::string vocab = WriteVocab(dir.path());
  ASSERT_TRUE(WriteLines({"the cat sat on the mat", "a dog ran far"}, dir / "corpus.txt").ok());
  PretrainOptions o = TinyTextOptions(dir / "pretrain", vocab);
  o.epochs = 1;
  o.text.positions = 4;
  o.text.lexical_dim = 64;
  o.text.lexical_weight = 0.5;
  o.text.semantic_dim = 4;
  o.text.semantic_weight = 0.4;
  o.text.semantic_agreement = 0.7;
  o.text.corpus = dir / "corpus.txt";
  auto report = Pretrain(TopicSentences(12, 2, 1, 1), Dataset(), o);
  ASSERT_TRUE(report.ok()) << report.status();
  const auto json = nlohmann::json::parse(*ReadFile(dir / "pretrain/report.json"));
  EXPECT_EQ(json["text_encoder"]["positions"], 4);
  EXPECT_DOUBLE_EQ(json["text_encoder"]["semantic_agreement"].get<double>(), 0.7);

  int right = 0, wrong = 0;
  ExportAndServe(*report, dir,
                 {"max_seq_length: 16", "positions: 4", "semantic_agreement: 0.7",
                  "feature_dim: 84"},
                 &right, &wrong);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_GT(right, wrong);
}

TEST(TextPretrainTest, BadEncoderOptionsNameTheFlag) {
  TempDir dir;
  const std::string vocab = WriteVocab(dir.path());
  const Dataset train = TopicSentences(4, 2, 1, 1);
  auto status = [&](const std::function<void(PretrainOptions&)>& edit) {
    PretrainOptions o = TinyTextOptions(dir / "run", vocab);
    edit(o);
    return Pretrain(train, Dataset(), o).status();
  };
  auto message = [&](const std::function<void(PretrainOptions&)>& edit) {
    const absl::Status s = status(edit);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    return std::string(s.message());
  };
  EXPECT_THAT(message([](PretrainOptions& o) { o.text.tokenizer.clear(); }),
              HasSubstr("tokenizer: required for a text set"));
  EXPECT_THAT(message([](PretrainOptions& o) { o.text.heads = 3; }),
              HasSubstr("dim: must be a multiple of heads (3), got 16"));
  EXPECT_THAT(message([](PretrainOptions& o) { o.text.max_len = 1; }),
              HasSubstr("max_len: must be in [2, 8192], got 1"));
  EXPECT_THAT(message([](PretrainOptions& o) { o.text.pooling = "max"; }), HasSubstr("pooling:"));
  EXPECT_THAT(message([](PretrainOptions& o) { o.text.positions = 17; }),
              HasSubstr("positions: must be in [0, 16], got 17"));
  EXPECT_THAT(message([](PretrainOptions& o) { o.text.semantic_agreement = 0.5; }),
              HasSubstr("semantic_agreement: needs a lexical and a semantic branch"));
  EXPECT_THAT(message([](PretrainOptions& o) {
                o.text.lexical_dim = 64;
                o.text.lexical_weight = -0.5;
              }),
              HasSubstr("lexical_weight: must be in [0,1]"));
  EXPECT_THAT(message([](PretrainOptions& o) { o.text.semantic_dim = 8; }),
              HasSubstr("corpus: the semantic branch (semantic_dim > 0) needs a corpus"));
  EXPECT_THAT(message([&](PretrainOptions& o) {
                o.text.semantic_dim = 500;
                o.text.corpus = vocab;
              }),
              HasSubstr("semantic_dim: must be below the vocabulary size (64), got 500"));
  EXPECT_THAT(message([](PretrainOptions& o) { o.lr_schedule = "step"; }),
              HasSubstr("lr_schedule: must be"));
  const absl::Status missing =
      status([](PretrainOptions& o) { o.text.tokenizer = "/nonexistent/vocab.txt"; });
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_THAT(std::string(missing.message()), HasSubstr("tokenizer: "));
  const absl::Status no_corpus = status([](PretrainOptions& o) {
    o.text.semantic_dim = 8;
    o.text.corpus = "/nonexistent/corpus.txt";
  });
  EXPECT_EQ(no_corpus.code(), absl::StatusCode::kNotFound) << no_corpus;
  EXPECT_THAT(std::string(no_corpus.message()), HasSubstr("corpus: /nonexistent/corpus.txt"));
}

TEST(TextPretrainTest, ResumingWithAnotherEncoderShapeIsRefused) {
  TempDir dir;
  const std::string vocab = WriteVocab(dir.path());
  const Dataset train = TopicSentences(4, 2, 1, 1);  // 32 texts: 2 steps per epoch.
  PretrainOptions o = TinyTextOptions(dir / "run", vocab);
  o.epochs = 1;
  ASSERT_TRUE(Pretrain(train, Dataset(), o).ok());
  o.text.dim = 32;
  o.resume = true;
  const auto resumed = Pretrain(train, Dataset(), o);
  EXPECT_EQ(resumed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(resumed.status().message()), HasSubstr("dim=32"));
}

}  // namespace
}  // namespace adaptd::train
