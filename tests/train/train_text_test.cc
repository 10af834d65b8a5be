// Text sets: the TSV and folder readers with their errors, the WordNet
// corpus (on a small data.noun the test writes, and on Debian's
// wordnet-base when installed) and the TF-IDF nearest-centroid baseline.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/train/test_data.h"
#include "train/data_cache.h"
#include "train/splits.h"
#include "train/text_baseline.h"
#include "train/text_data.h"
#include "train/wordnet.h"

namespace adaptd::train {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

void Write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

TEST(TextDataTest, TsvGivesClassesGroupedByPrefixAndSplitByGroup) {
  TempDir dir;
  std::string tsv;
  for (const char* group : {"billing", "shipping", "account", "returns"}) {
    for (int c = 0; c < 2; ++c) {
      for (int i = 0; i < 3; ++i) {
        absl::StrAppend(&tsv, group, "/intent", c, "\t  text ", i, " of ", group, c, " \r\n");
      }
    }
  }
  absl::StrAppend(&tsv, "\n", "loose\tcafé ünïcode 日本\n");
  Write(dir.path() + "/intents.tsv", tsv);
  auto data = LoadTextTsv(dir.path() + "/intents.tsv", {});
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_TRUE(data->Validate().ok());
  EXPECT_EQ(data->modality, Modality::kText);
  EXPECT_EQ(data->size(), 4 * 2 * 3 + 1);
  EXPECT_EQ(data->num_classes(), 9);
  EXPECT_EQ(data->num_groups(), 5);
  EXPECT_EQ(data->class_names[0], "billing/intent0");
  EXPECT_EQ(data->group_names[0], "billing");
  EXPECT_EQ(data->texts[0], "text 0 of billing0") << "trimmed, \\r dropped";
  EXPECT_EQ(data->texts.back(), "café ünïcode 日本");
  ASSERT_EQ(data->group_splits.size(), 5u);
  // Classes of one group share its split; the set has all three.
  const Dataset train = SplitClasses(*data, Split::kTrain);
  EXPECT_GT(train.num_classes(), 0);
  EXPECT_TRUE(train.num_classes() % 2 == 0 || train.num_groups() != train.num_classes());
  // The TSV round trip keeps labels and texts.
  ASSERT_TRUE(WriteTextTsv(*data, dir.path() + "/again.tsv").ok());
  auto again = LoadTextTsv(dir.path() + "/again.tsv", {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->texts, data->texts);
  EXPECT_EQ(again->class_names, data->class_names);
  // Text sets do not go into image caches.
  EXPECT_EQ(SaveDataset(*data, "meta", dir.path() + "/x.bin").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TextDataTest, BadTsvLinesAreRefusedNamingTheLine) {
  TempDir dir;
  auto refused = [&](const std::string& contents) {
    Write(dir.path() + "/bad.tsv", contents);
    auto data = LoadTextTsv(dir.path() + "/bad.tsv", {});
    EXPECT_FALSE(data.ok());
    return std::string(data.status().message());
  };
  EXPECT_TRUE(absl::StrContains(refused("a\tok\nno tab here\n"), "bad.tsv:2: no tab"));
  EXPECT_TRUE(absl::StrContains(refused("a\tok\n\tno label\n"), "bad.tsv:2: empty label"));
  EXPECT_TRUE(absl::StrContains(refused("a\t   \n"), "bad.tsv:1: empty text"));
  EXPECT_TRUE(absl::StrContains(refused("a\tbad \xff byte\n"), "bad.tsv:1 text: invalid UTF-8"));
  TextLoadOptions small;
  small.max_text_bytes = 4;
  Write(dir.path() + "/long.tsv", "a\tfive!\n");
  auto long_text = LoadTextTsv(dir.path() + "/long.tsv", small);
  EXPECT_TRUE(absl::StrContains(long_text.status().message(), "long.tsv:1: text of 5 bytes"));
  EXPECT_EQ(LoadTextTsv(dir.path() + "/none.tsv", {}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(refused("\n\n").find("no texts") != std::string::npos, true);
}

TEST(TextDataTest, FoldersOfTextFilesAreClasses) {
  TempDir dir;
  Write(dir.path() + "/t/refund/a.txt", "I want my money back\n");
  Write(dir.path() + "/t/refund/b.txt", "please refund the order");
  Write(dir.path() + "/t/delivery/late/c.txt", "where is my parcel");
  Write(dir.path() + "/t/notes.md", "not a text");
  auto data = LoadTextFolders(dir.path() + "/t", {});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->class_names, (std::vector<std::string>{"delivery/late", "refund"}));
  EXPECT_EQ(data->group_names, (std::vector<std::string>{"delivery", "refund"}));
  EXPECT_EQ(data->texts, (std::vector<std::string>{"where is my parcel", "I want my money back",
                                                   "please refund the order"}));
}

// A data.noun line: offset, lexicographer file, words, hyponym pointers, gloss.
std::string Line(const std::string& offset, int lex_file, const std::string& word,
                 const std::vector<std::string>& hyponyms, const std::string& gloss) {
  std::string line = absl::StrCat(offset, " ", lex_file < 10 ? "0" : "", lex_file, " n 01 ", word,
                                  " 0 ", hyponyms.size() < 10 ? "00" : "0", hyponyms.size());
  for (const auto& h : hyponyms) absl::StrAppend(&line, " ~ ", h, " n 0000");
  return absl::StrCat(line, " | ", gloss, "  \n");
}

TEST(WordNetTest, SubtreesOfBoundedSizeBecomeClassesGroupedByLexicographerFile) {
  TempDir dir;
  // entity -> animal with 5 beasts (6 synsets), artifact -> tool (with
  // hammer and saw), cup and plate (6 synsets).
  std::string noun = "  1 This software and database is provided...\n";
  noun += Line("00001740", 3, "entity", {"00000100", "00000200"}, "that which exists");
  std::vector<std::string> animals;
  for (int i = 0; i < 5; ++i) animals.push_back(absl::StrCat("0000011", i));
  noun += Line("00000100", 5, "animal", animals, "a living organism; \"the animal ran\"");
  for (int i = 0; i < 5; ++i) {
    noun += Line(animals[i], 5, absl::StrCat("beast_", i), {},
                 absl::StrCat("beast number ", i, "; \"beast ", i, " sleeps\"; \"it roars\""));
  }
  noun += Line("00000200", 6, "artifact", {"00000210", "00000220", "00000230"}, "a made thing");
  noun += Line("00000210", 6, "tool", {"00000211", "00000212"}, "an implement");
  noun += Line("00000211", 6, "hammer", {}, "hits nails");
  noun += Line("00000212", 6, "saw", {}, "cuts wood");
  noun += Line("00000220", 6, "cup", {}, "holds tea");
  noun += Line("00000230", 6, "plate", {}, "holds food");
  Write(dir.path() + "/data.noun", noun);
  WordNetOptions o;
  o.dir = dir.path();
  o.min_synsets = 3;
  o.max_synsets = 6;
  auto data = BuildWordNetCorpus(o);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_TRUE(data->Validate().ok());
  EXPECT_EQ(data->class_names,
            (std::vector<std::string>{"noun.animal/animal", "noun.artifact/artifact"}));
  EXPECT_EQ(data->group_names, (std::vector<std::string>{"noun.animal", "noun.artifact"}));
  // animal: its definition and example, then each beast's definition and two
  // examples.
  EXPECT_EQ(data->IndicesByClass()[0].size(), 2u + 5 * 3);
  EXPECT_EQ(data->texts[0], "a living organism");
  EXPECT_EQ(data->texts[1], "the animal ran");
  o.lemmas = true;
  auto with_lemmas = BuildWordNetCorpus(o);
  ASSERT_TRUE(with_lemmas.ok());
  EXPECT_EQ(with_lemmas->texts[2], "beast 0: beast number 0");
  // At most 5: animal is split into single beasts (too small), artifact
  // into tool (3) and two leaves.
  o.max_synsets = 5;
  auto smaller = BuildWordNetCorpus(o);
  ASSERT_TRUE(smaller.ok()) << smaller.status();
  EXPECT_EQ(smaller->class_names, (std::vector<std::string>{"noun.artifact/tool"}));
  // One file's classes in one group: a set that is all meta-train.
  o.max_synsets = 6;
  o.only_files = {"noun.artifact"};
  o.one_group = "levels";
  auto levels = BuildWordNetCorpus(o);
  ASSERT_TRUE(levels.ok()) << levels.status();
  EXPECT_EQ(levels->class_names, (std::vector<std::string>{"levels/noun.artifact:artifact"}));
  EXPECT_EQ(levels->group_names, (std::vector<std::string>{"levels"}));
  EXPECT_EQ(levels->group_splits, (std::vector<Split>{Split::kTrain}));
  o.only_files.clear();
  o.one_group.clear();
  o.min_synsets = 14;  // The whole tree holds 13.
  o.max_synsets = 20;
  EXPECT_EQ(BuildWordNetCorpus(o).status().code(), absl::StatusCode::kNotFound);
  o.max_synsets = 9;
  EXPECT_EQ(BuildWordNetCorpus(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.max_synsets = 20;
  o.dir = dir.path() + "/nothing";
  EXPECT_EQ(BuildWordNetCorpus(o).status().code(), absl::StatusCode::kNotFound);
  Write(dir.path() + "/broken/data.noun", "00001740 03 n 01 entity | gloss\n");
  o.dir = dir.path() + "/broken";
  EXPECT_TRUE(absl::StrContains(BuildWordNetCorpus(o).status().message(), "data.noun:1"))
      << BuildWordNetCorpus(o).status();
}

TEST(WordNetTest, DebiansWordNetGivesTopicsSplitByLexicographerFile) {
  if (!fs::exists(std::string(kWordNetDir) + "/data.noun")) {
    GTEST_SKIP() << "wordnet-base is not installed";
  }
  auto data = BuildWordNetCorpus({});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_GT(data->num_classes(), 1000);
  EXPECT_EQ(data->num_groups(), 26);
  for (const auto& by_class : data->IndicesByClass()) EXPECT_GE(by_class.size(), 10u);
}

// Classes that differ by their words: TF-IDF tells them apart; the same
// texts under shuffled labels are at chance.
TEST(TextBaselineTest, NearestCentroidOnTfIdfFindsTheClassesWordsCarry) {
  Dataset data;
  data.modality = Modality::kText;
  const std::vector<std::string> topics = {"ship harbour sail", "bread oven flour",
                                           "goal striker pitch", "violin bow string",
                                           "rocket orbit launch", "tomato soil seed"};
  for (size_t t = 0; t < topics.size(); ++t) {
    const int32_t c = data.AddClass(absl::StrCat("c", t), data.AddGroup(absl::StrCat("g", t)));
    for (int i = 0; i < 20; ++i) {
      data.AddText(c, absl::StrCat("the ", topics[t], " note ", i, " and some common words"));
    }
  }
  TextBaselineOptions o;
  o.settings = {{5, 1}};
  o.episodes = 50;
  o.queries = 5;
  auto results = TfIdfNearestCentroid(data, data, o);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 1u);
  EXPECT_GT((*results)[0].accuracy, 0.95);
  Dataset shuffled = data;
  for (int64_t i = 0; i < shuffled.size(); ++i) shuffled.labels[i] = static_cast<int32_t>(i % 6);
  auto chance = TfIdfNearestCentroid(shuffled, shuffled, o);
  ASSERT_TRUE(chance.ok());
  EXPECT_LT((*chance)[0].accuracy, 0.5);
  Dataset images;
  EXPECT_EQ(TfIdfNearestCentroid(images, data, o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace adaptd::train
