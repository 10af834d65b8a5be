// The evaluation-only text set read from fortune files: classes by file,
// texts by entry, and what it leaves out or refuses.
#include "train/fortunes.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/train/test_data.h"
#include "train/dataset.h"

namespace adaptd::train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ExpectTextTsvRoundTrip;
using testing::TempDir;
using testing::TextsOf;

void Write(const std::string& path, const std::string& contents) {
  std::ofstream(path) << contents;
}

TEST(FortunesTest, ClassesAreFilesAndTextsAreEntries) {
  TempDir dir;
  Write(dir / "food",
        "An apple a day\n  keeps the   doctor away.\n%\nBread is life.\n%\n"
        "Bread is life.\n%\nYou are what you eat.\n%\n");
  // Overstruck text ("_\bw") and an entry also in another file.
  Write(dir / "work", "Wo_\brk is love\tmade visible.\n%\nYou are what you eat.\n%\nLabour on.\n");
  Write(dir / "tiny", "Just one.\n");
  Write(dir / "food.dat", "\x01\x02 an index, not read");
  std::filesystem::create_symlink("food", dir / "food.u8");
  std::filesystem::create_directory(dir / "off");
  Write(dir / "off/rude", "Not read.\n%\nNor this.\n");
  FortunesOptions o;
  o.dir = dir.path();
  o.min_texts = 2;
  auto data = ReadFortunes(o);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_TRUE(data->Validate().ok());
  EXPECT_EQ(data->modality, Modality::kText);
  EXPECT_THAT(data->class_names, ElementsAre("food", "work"));
  EXPECT_EQ(data->group_names, data->class_names);
  // Lines join with single spaces; the repeat counts once; the entry in
  // both files is left out; control characters are spaces.
  EXPECT_THAT(TextsOf(*data, "food"),
              ElementsAre("An apple a day keeps the doctor away.", "Bread is life."));
  EXPECT_THAT(TextsOf(*data, "work"), ElementsAre("Wo_ rk is love made visible.", "Labour on."));

  ExpectTextTsvRoundTrip(*data, dir / "fortunes.tsv");
}

TEST(FortunesTest, SmallFilesAndBadEntriesAreLeftOut) {
  TempDir dir;
  Write(dir / "a", "One.\n%\nBad \xff\xfe text.\n%\nTwo.\n%\nThree.\n");
  Write(dir / "b", "Four.\n%\nFive.\n");
  FortunesOptions o;
  o.dir = dir.path();
  o.min_texts = 3;
  auto data = ReadFortunes(o);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_THAT(data->class_names, ElementsAre("a"));
  EXPECT_THAT(data->texts, ElementsAre("One.", "Two.", "Three."));
  o.min_texts = 4;
  EXPECT_EQ(ReadFortunes(o).status().code(), absl::StatusCode::kNotFound);
  o.min_texts = 0;
  EXPECT_THAT(ReadFortunes(o).status().message(), HasSubstr("min_texts: must be 1 or more"));
  o.min_texts = 1;
  o.dir = dir / "missing";
  const absl::Status missing = ReadFortunes(o).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("missing: no such folder"));
}

}  // namespace
}  // namespace adaptd::train
