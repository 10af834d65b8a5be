// Unlabelled texts from a dictd dictionary: one per headword, notes and
// pronunciations out, WordNet's paragraphs left out; and the token vectors
// computed from such texts.
#include "train/dictionary.h"

#include <zlib.h>

#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/train/test_data.h"
#include "train/token_vectors.h"

namespace adaptd::train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

// What dict-gcide's .dict holds, in its layout: dictd's own records first,
// then entries separated by blank lines, continuation lines indented.
constexpr char kDictionary[] =
    "00-database-info\n"
    "   This file was converted from the original database.\n"
    "\n"
    "Cat \\Cat\\, n. [AS. cat; akin to D. kat.]\n"
    "   1. (Zool.) Any animal belonging to the natural family\n"
    "      Felid[ae].\n"
    "      [1913 Webster]\n"
    "\n"
    "   2. A strong tackle used to draw an anchor.\n"
    "      [1913 Webster]\n"
    "\n"
    "Dog \\Dog\\, n.\n"
    "   A quadruped of the genus Canis.\n"
    "   [1913 Webster]\n"
    "\n"
    "   n. 1. a member of the genus Canis that has been domesticated\n"
    "      by man since prehistoric times\n"
    "   [WordNet 1.5]\n"
    "\n"
    "cat \\cat\\, v. t.\n"
    "   To bring to the cathead.\n"
    "\n"
    "Wordnetonly \\Word\"net*on`ly\\, n.\n"
    "   a gloss that only WordNet gives [WordNet 1.5]\n";

std::string Write(const TempDir& dir, const std::string& name, const std::string& contents,
                  bool gzip) {
  const std::string path = dir / name;
  if (!gzip) {
    std::ofstream(path) << contents;
    return path;
  }
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, contents.data(), static_cast<unsigned>(contents.size()));
  gzclose(f);
  return path;
}

TEST(DictionaryTest, OneTextPerHeadwordWithoutNotesOrWordNet) {
  TempDir dir;
  for (const bool gzip : {false, true}) {
    const std::string path = Write(dir, gzip ? "d.dict.dz" : "d.dict", kDictionary, gzip);
    auto texts = ReadDictionaryTexts(path);
    ASSERT_TRUE(texts.ok()) << texts.status();
    EXPECT_THAT(*texts,
                ElementsAre("Cat , n. 1. (Zool.) Any animal belonging to the natural family "
                            "Felid. 2. A strong tackle used to draw an anchor. cat , v. t. To "
                            "bring to the cathead.",
                            "Dog , n. A quadruped of the genus Canis."))
        << (gzip ? "gzip" : "plain");
  }
}

TEST(DictionaryTest, BadFilesAreNamed) {
  TempDir dir;
  const auto missing = ReadDictionaryTexts(dir / "none.dict.dz");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("none.dict.dz: cannot open"));
  const auto empty = ReadDictionaryTexts(Write(dir, "empty.dict", "00-database-info\n x\n", false));
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr("no dictionary entries"));
}

TEST(DictionaryTest, LinesRoundTrip) {
  TempDir dir;
  const std::string path = dir / "lines.txt";
  ASSERT_TRUE(WriteLines({"one text", "another, longer text"}, path).ok());
  auto lines = ReadLines(path);
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_THAT(*lines, ElementsAre("one text", "another, longer text"));
  EXPECT_EQ(ReadLines(dir / "none.txt").status().code(), absl::StatusCode::kNotFound);
  std::ofstream(dir / "blank.txt") << "\n  \n";
  EXPECT_EQ(ReadLines(dir / "blank.txt").status().code(), absl::StatusCode::kInvalidArgument);
}

// Two families of tokens that are only ever used together, never across:
// tokens of a family get near vectors, tokens of two families far ones,
// however seldom two of a family met directly.
TEST(TokenVectorsTest, TokensUsedAlikeGetNearVectors) {
  std::vector<std::vector<int32_t>> docs;
  uint64_t state = 7;
  const auto next = [&](int n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int32_t>((state >> 33) % n);
  };
  // Family A: tokens 4-23, family B: 24-43; each text 4 tokens of one
  // family and token 2 (a special, left out) and 1 (in both, common).
  for (int i = 0; i < 2000; ++i) {
    const int base = i % 2 == 0 ? 4 : 24;
    std::vector<int32_t> doc = {2, 1};
    for (int k = 0; k < 4; ++k) doc.push_back(base + next(20));
    docs.push_back(doc);
  }
  TokenVectorOptions o;
  o.dim = 8;
  const torch::Tensor v = TokenVectors(docs, 50, {2}, o);
  ASSERT_EQ(v.sizes(), (std::vector<int64_t>{50, 8}));
  const torch::Tensor cos = v.matmul(v.t());
  double within = 0, across = 0;
  for (int a = 4; a < 24; ++a) {
    for (int b = 4; b < 24; ++b) {
      if (a != b) within += cos[a][b].item<double>() / (20 * 19);
    }
    for (int b = 24; b < 44; ++b) across += cos[a][b].item<double>() / (20 * 20);
  }
  EXPECT_GT(within, 0.6);
  EXPECT_LT(across, 0.1);
  // Unit rows where a token met others; zero for the special and for
  // tokens never seen.
  EXPECT_NEAR(v[5].norm().item<double>(), 1, 1e-5);
  EXPECT_EQ(v[2].norm().item<double>(), 0);
  EXPECT_EQ(v[45].norm().item<double>(), 0);
  // The same seed, the same vectors.
  EXPECT_TRUE(torch::equal(v, TokenVectors(docs, 50, {2}, o)));
}

}  // namespace
}  // namespace adaptd::train
