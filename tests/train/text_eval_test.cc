// Few-shot evaluation of a text model: eval's TF-IDF nearest-centroid row
// on the same episodes as the methods, with paired differences, and the
// eval, proto-eval and tune-finetune commands on text sets. The text
// encoder is trained and exported in the test, on synthetic topics.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/file_util.h"
#include "server/engine/text/sentencepiece_tokenizer.h"
#include "tests/train/test_data.h"
#include "train/dataset.h"
#include "train/dictionary.h"
#include "train/evaluate.h"
#include "train/export.h"
#include "train/pretrain.h"
#include "train/text_baseline.h"
#include "train/text_data.h"

#ifndef ADAPT_TRAIN
#error "ADAPT_TRAIN must name the adapt-train binary"
#endif

namespace adaptd::train {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

constexpr int kTopics = 48;
constexpr int kWordsPerTopic = 6;

// Word k of topic t: letters only, so one word is one WordPiece token.
std::string TopicWord(int topic, int k) {
  return absl::StrCat("w", std::string(1, static_cast<char>('a' + topic / 26)),
                      std::string(1, static_cast<char>('a' + topic % 26)),
                      std::string(1, static_cast<char>('a' + k)));
}

const std::vector<std::string>& Fillers() {
  static const auto* words =
      new std::vector<std::string>{"the", "a", "was", "today", "very", "and", "we", "saw"};
  return *words;
}

// Two words of its topic, one of another topic and three fillers: tasks a
// model and TF-IDF both get mostly, not always, right.
std::string Sentence(int topic, std::mt19937* rng) {
  std::vector<std::string> words = {TopicWord(topic, (*rng)() % kWordsPerTopic),
                                    TopicWord(topic, (*rng)() % kWordsPerTopic),
                                    TopicWord((*rng)() % kTopics, (*rng)() % kWordsPerTopic)};
  for (int i = 0; i < 3; ++i) words.push_back(Fillers()[(*rng)() % Fillers().size()]);
  std::shuffle(words.begin(), words.end(), *rng);
  return absl::StrCat(absl::StrJoin(words, " "), ".");
}

// Topics [first, first + count), `per_topic` sentences each; topic t is
// class "t<t>" in group "g<t / per_group>".
Dataset Topics(int first, int count, int per_topic, int per_group, uint32_t seed) {
  std::mt19937 rng(seed);
  Dataset data;
  data.modality = Modality::kText;
  for (int t = first; t < first + count; ++t) {
    const std::string group = absl::StrCat("g", t / per_group);
    int32_t g = static_cast<int32_t>(
        std::find(data.group_names.begin(), data.group_names.end(), group) -
        data.group_names.begin());
    if (g == data.num_groups()) g = data.AddGroup(group);
    const int32_t label = data.AddClass(absl::StrCat("t", t), g);
    for (int i = 0; i < per_topic; ++i) data.AddText(label, Sentence(t, &rng));
  }
  return data;
}

using Result = testing::ToolResult;

Result RunTool(const std::string& args) { return testing::RunTool(ADAPT_TRAIN, args); }

// A native text encoder trained on topics 0..23 and exported once for the
// whole suite, with the WordPiece vocabulary of every topic's words.
class TextEvalTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string vocab = *dir_ / "vocab.txt";
    {
      std::ofstream out(vocab);
      for (const char* token : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."}) {
        out << token << "\n";
      }
      for (int t = 0; t < kTopics; ++t) {
        for (int k = 0; k < kWordsPerTopic; ++k) out << TopicWord(t, k) << "\n";
      }
      for (const auto& w : Fillers()) out << w << "\n";
    }
    PretrainOptions o;
    o.work_dir = *dir_ / "pretrain";
    o.text.tokenizer = vocab;
    o.text.dim = 16;
    o.text.layers = 1;
    o.text.heads = 2;
    o.text.max_len = 12;
    o.text.dropout = 0;
    o.epochs = 3;
    o.batch_size = 32;
    o.lr = 3e-3;
    o.threads = 1;
    o.eval_episodes = 0;
    o.progress = false;
    auto report = Pretrain(Topics(0, 24, 12, 3, 1), Dataset(), o);
    ASSERT_TRUE(report.ok()) << report.status();
    ExportOptions e;
    e.weights = report->weights_path;
    e.name = "topics-text";
    e.out_dir = *dir_ / "model";
    const absl::Status exported = ExportPretrained(e);
    ASSERT_TRUE(exported.ok()) << exported;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string ModelDir() { return *dir_ / "model"; }

  static TempDir* dir_;
};

TempDir* TextEvalTest::dir_ = nullptr;

TEST_F(TextEvalTest, EvalScoresTfIdfOnTheSameEpisodesAsTheMethods) {
  const Dataset fit = Topics(0, 24, 12, 3, 1);    // What the encoder saw.
  const Dataset test = Topics(24, 12, 12, 3, 2);  // Topics it never saw.
  std::vector<CrossDomain> cross = {{"other", Topics(36, 12, 12, 3, 3)}};
  EvalOptions o;
  o.model_dir = ModelDir();
  o.data_name = "topics";
  o.settings = {{5, 1}, {5, 5}};
  o.cross_settings = {{5, 1}};
  o.episodes = 60;
  o.queries = 5;
  o.curve_episodes = 5;
  o.threads = 1;
  o.progress = false;
  o.tfidf_fit = fit;
  auto report = Evaluate(test, cross, o);
  ASSERT_TRUE(report.ok()) << report.status();

  // Per (domain, ways, shots): the methods that have a row, and TF-IDF's.
  using Key = std::tuple<std::string, int, int>;
  std::map<Key, std::set<std::string>> methods;
  std::map<std::pair<Key, std::string>, const EvalRow*> row_of;
  for (const EvalRow& r : report->rows) {
    const Key key{r.domain, r.ways, r.shots};
    methods[key].insert(r.method);
    row_of[{key, r.method}] = &r;
    EXPECT_EQ(r.episodes, o.episodes) << r.method;
    EXPECT_GT(r.accuracy, 0.2) << r.method;  // Chance is 0.2.
    EXPECT_LE(r.accuracy, 1.0) << r.method;
    EXPECT_GT(r.ci95, 0) << r.domain << " " << r.method;  // The episodes differ.
  }
  const std::set<std::string> expected = {"TF-IDF", "PROTOTYPE", "FINETUNE-5", "FINETUNE-50"};
  const std::vector<Key> keys = {{"topics", 5, 1}, {"topics", 5, 5}, {"other", 5, 1}};
  ASSERT_EQ(methods.size(), keys.size());
  for (const Key& key : keys) EXPECT_EQ(methods[key], expected) << std::get<0>(key);

  // TF-IDF's row is text-baseline's figure for the same episodes.
  TextBaselineOptions b;
  b.settings = o.settings;
  b.episodes = o.episodes;
  b.queries = o.queries;
  b.seed = o.seed;
  auto baseline = TfIdfNearestCentroid(fit, test, b);
  ASSERT_TRUE(baseline.ok()) << baseline.status();
  ASSERT_EQ(baseline->size(), 2u);
  for (const FewShotResult& r : *baseline) {
    const EvalRow* row = row_of[{{"topics", r.ways, r.shots}, "TF-IDF"}];
    ASSERT_NE(row, nullptr);
    EXPECT_DOUBLE_EQ(row->accuracy, r.accuracy);
    EXPECT_NEAR(row->ci95, r.ci95, 1e-12);
  }

  // Each method's paired difference: the difference of the two rows'
  // means, with its own interval.
  ASSERT_EQ(report->minus_tfidf.size(), keys.size() * 3);
  for (const TfIdfDelta& d : report->minus_tfidf) {
    const Key key{d.domain, d.ways, d.shots};
    const EvalRow* mine = row_of[{key, d.method}];
    const EvalRow* tfidf = row_of[{key, "TF-IDF"}];
    ASSERT_NE(mine, nullptr) << d.method;
    ASSERT_NE(tfidf, nullptr);
    EXPECT_NEAR(d.delta, mine->accuracy - tfidf->accuracy, 1e-12) << d.method;
    EXPECT_GT(d.ci95, 0) << d.method;
  }
  EXPECT_TRUE(report->paired.empty());  // No meta-learner, no META rows.

  const std::string markdown = EvalMarkdown(*report);
  EXPECT_THAT(markdown, HasSubstr("| topics | 5-way 5-shot | TF-IDF |"));
  EXPECT_THAT(markdown, HasSubstr("| other | 5-way 1-shot | PROTOTYPE | "));
  EXPECT_THAT(markdown, HasSubstr("| method - TF-IDF |"));
  EXPECT_THAT(markdown, ::testing::Not(HasSubstr("PIXELS")));
}

TEST_F(TextEvalTest, CommandsTakeTextSets) {
  TempDir dir;
  // 10 groups of 4 topics: the split leaves several groups for meta-test.
  const std::string data = dir / "topics.tsv";
  ASSERT_TRUE(WriteTextTsv(Topics(0, 40, 12, 4, 4), data).ok());
  const std::string other = dir / "other.tsv";
  ASSERT_TRUE(WriteTextTsv(Topics(40, 8, 12, 4, 5), other).ok());

  const std::string common = absl::StrCat("--model ", ModelDir(), " --data ", data,
                                          " --queries 5 --seed 2 --threads 1");
  Result eval = RunTool(absl::StrCat("eval ", common, " --cross_data ", other,
                                     ":all --ways 5 --shots 1,5 --episodes 20 "
                                     "--curve_episodes 5 --report ",
                                     dir / "report"));
  ASSERT_EQ(eval.code, 0) << eval.output;
  const auto json = nlohmann::json::parse(*ReadFile(dir / "report.json"));
  std::map<std::string, std::set<std::string>> methods;  // Per domain.
  for (const auto& row : json["rows"]) {
    methods[row["domain"].get<std::string>()].insert(row["method"].get<std::string>());
    EXPECT_EQ(row["episodes"], 20);
  }
  const std::set<std::string> expected = {"TF-IDF", "PROTOTYPE", "FINETUNE-5", "FINETUNE-50"};
  EXPECT_EQ(methods["topics"], expected);
  EXPECT_EQ(methods["other"], expected);  // Every class of other.tsv (":all").
  EXPECT_EQ(methods.size(), 2u);
  EXPECT_EQ(json["minus_tfidf"].size(), 4u * 3u);  // 1 and 5 shots, both domains.
  EXPECT_THAT(eval.output, HasSubstr("| method - TF-IDF |"));

  Result proto = RunTool(absl::StrCat("proto-eval ", common, " --shots 1 --episodes 20"));
  ASSERT_EQ(proto.code, 0) << proto.output;
  EXPECT_THAT(proto.output, HasSubstr("| 5-way 1-shot | "));

  Result tune = RunTool(absl::StrCat("tune-finetune ", common,
                                     " --lr_grid 0.01,0.1 --val_episodes 10"));
  ASSERT_EQ(tune.code, 0) << tune.output;
  EXPECT_THAT(tune.output, HasSubstr("best: "));

  // vocab --corpus trains on unlabelled lines too: their frequent word
  // becomes a piece of its own.
  std::vector<std::string> corpus(300, "the quixotrelm sat on a quixotrelm");
  ASSERT_TRUE(WriteLines(corpus, dir / "corpus.txt").ok());
  for (const bool with_corpus : {false, true}) {
    const std::string out = dir / (with_corpus ? "with" : "without");
    Result vocab = RunTool(absl::StrCat("vocab --data ", data, " --vocab_size 60 --threads 1 --out ",
                                        out, with_corpus ? " --corpus " + (dir / "corpus.txt") : ""));
    ASSERT_EQ(vocab.code, 0) << vocab.output;
    EXPECT_EQ(absl::StrContains(vocab.output, "and 300 lines of "), with_corpus) << vocab.output;
    auto tokenizer = engine::SentencePieceTokenizer::Create(out + ".model");
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    EXPECT_EQ((*tokenizer)->TokenId("\u2581quixotrelm").has_value(), with_corpus);
  }
  Result no_corpus = RunTool(absl::StrCat("vocab --data ", data, " --vocab_size 60 --out ",
                                          dir / "x", " --corpus ", dir / "none.txt"));
  EXPECT_NE(no_corpus.code, 0);
  EXPECT_THAT(no_corpus.output, HasSubstr("corpus: "));

  // A missing text set is named.
  Result images = RunTool(absl::StrCat("eval --model ", ModelDir(), " --data ", dir / "none.tsv",
                                       " --report ", dir / "x"));
  EXPECT_NE(images.code, 0);
  EXPECT_THAT(images.output, HasSubstr("none.tsv"));
}

}  // namespace
}  // namespace adaptd::train

namespace adaptd::train {
namespace {

// tune-finetune's pick: the best meta-val rate, but not one right below a
// collapse, since the cliff moves with the domain.
TEST(StableBestRateTest, BacksOffFromTheEdgeOfDivergence) {
  // The text model's grid: 0.1 is best, but 0.3 loses 5.9 points.
  EXPECT_EQ(StableBestRate({{0.003, 0.8528}, {0.01, 0.8539}, {0.03, 0.8549}, {0.1, 0.8555},
                            {0.3, 0.7970}, {1, 0.7436}}),
            0.03);
  // No cliff: the best; the largest rate has none above it.
  EXPECT_EQ(StableBestRate({{0.01, 0.80}, {0.03, 0.81}, {0.1, 0.805}, {0.3, 0.80}}), 0.03);
  EXPECT_EQ(StableBestRate({{0.1, 0.90}, {0.01, 0.80}}), 0.1);
  // A tie goes to the smaller rate; order of the grid does not matter.
  EXPECT_EQ(StableBestRate({{0.3, 0.85}, {0.1, 0.85}, {1, 0.849}}), 0.1);
  // The smallest rate is best and the next far worse: nothing to back off to.
  EXPECT_EQ(StableBestRate({{0.01, 0.9}, {0.1, 0.8}, {1, 0.7}}), 0.01);
}

}  // namespace
}  // namespace adaptd::train
