// The evaluation-only text set read from dpkg's status file: classes by
// section, texts by description paragraph, and what it refuses.
#include "train/debian_packages.h"

#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/train/test_data.h"
#include "train/dataset.h"

namespace adaptd::train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ExpectTextTsvRoundTrip;
using testing::TempDir;
using testing::TextsOf;

std::string Write(const TempDir& dir, const std::string& contents) {
  const std::string path = dir / "status";
  std::ofstream(path) << contents;
  return path;
}

// A stanza as dpkg writes one; `long_lines` are the Description's
// continuation lines, without their leading space.
std::string Stanza(const std::string& package, const std::string& section,
                   const std::vector<std::string>& long_lines) {
  std::string out = absl::StrCat("Package: ", package, "\nStatus: install ok installed\n");
  if (!section.empty()) absl::StrAppend(&out, "Section: ", section, "\n");
  absl::StrAppend(&out, "Version: 1.0-1\nDescription: the synopsis of ", package, "\n");
  for (const std::string& line : long_lines) absl::StrAppend(&out, " ", line, "\n");
  absl::StrAppend(&out, "Homepage: https://example.org/\n\n");
  return out;
}

TEST(DebianPackagesTest, ClassesAreSectionsAndTextsAreDescriptionParagraphs) {
  TempDir dir;
  const std::string status = Write(
      dir,
      Stanza("tool-a", "admin", {"Manages users and their groups", "on the system.", ".",
                                 "This package contains the shared library."}) +
          Stanza("tool-b", "admin", {"Rotates log files daily."}) +
          Stanza("tool-b", "admin", {"Rotates log files daily."}) +  // Another architecture.
          Stanza("libfoo1", "libs", {"Decodes foo images.", ".",
                                     "This package contains the shared library."}) +
          Stanza("libbar1", "libs", {"Parses bar documents.", ".", "  verbatim  line"}) +
          Stanza("netcat", "contrib/net", {"Reads and writes network connections."}) +
          Stanza("ftp", "net", {"The file transfer client."}) +
          Stanza("tiny", "games", {"A game."}) +
          Stanza("nosection", "", {"Never a text."}));
  DebianPackagesOptions o;
  o.status_file = status;
  o.min_texts = 2;
  auto data = ReadDebianPackages(o);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_TRUE(data->Validate().ok());
  EXPECT_EQ(data->modality, Modality::kText);
  // Sorted; "games" has one text; "contrib/net" joins "net".
  EXPECT_THAT(data->class_names, ElementsAre("admin", "libs", "net"));
  EXPECT_EQ(data->group_names, data->class_names);
  EXPECT_TRUE(data->group_splits.empty());
  // The synopsis is not a text; lines join; the shared-library paragraph is
  // in two sections and left out; a repeat counts once.
  EXPECT_THAT(TextsOf(*data, "admin"),
              ElementsAre("Manages users and their groups on the system.",
                          "Rotates log files daily."));
  EXPECT_THAT(TextsOf(*data, "libs"),
              ElementsAre("Decodes foo images.", "Parses bar documents.", "verbatim  line"));
  EXPECT_THAT(TextsOf(*data, "net"), ElementsAre("Reads and writes network connections.",
                                                 "The file transfer client."));

  ExpectTextTsvRoundTrip(*data, dir / "packages.tsv");
}

TEST(DebianPackagesTest, MinTextsDropsSmallSections) {
  TempDir dir;
  const std::string status =
      Write(dir, Stanza("a", "admin", {"One.", ".", "Two.", ".", "Three."}) +
                     Stanza("b", "libs", {"Four.", ".", "Five."}));
  DebianPackagesOptions o;
  o.status_file = status;
  o.min_texts = 3;
  auto data = ReadDebianPackages(o);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_THAT(data->class_names, ElementsAre("admin"));
  o.min_texts = 4;
  EXPECT_EQ(ReadDebianPackages(o).status().code(), absl::StatusCode::kNotFound);
  o.min_texts = 0;
  EXPECT_EQ(ReadDebianPackages(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DebianPackagesTest, InvalidUtf8ParagraphsAreLeftOut) {
  TempDir dir;
  const std::string status =
      Write(dir, Stanza("a", "admin", {"Good text.", ".", "Bad \xff\xfe text.", ".", "Fine."}));
  DebianPackagesOptions o;
  o.status_file = status;
  o.min_texts = 1;
  auto data = ReadDebianPackages(o);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_THAT(data->texts, ElementsAre("Good text.", "Fine."));
}

TEST(DebianPackagesTest, RefusesBadInput) {
  TempDir dir;
  DebianPackagesOptions o;
  o.min_texts = 1;
  o.status_file = dir / "missing";
  EXPECT_EQ(ReadDebianPackages(o).status().code(), absl::StatusCode::kNotFound);

  o.status_file = Write(dir, Stanza("a", "admin", {"Text."}) + "Package: b\nnot a field\n");
  auto bad = ReadDebianPackages(o);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr(absl::StrCat(o.status_file, ":10:")));

  o.status_file = Write(dir, " a continuation first\nPackage: a\n");
  bad = ReadDebianPackages(o);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr(":1:"));

  o.status_file = Write(dir, "");
  EXPECT_EQ(ReadDebianPackages(o).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace adaptd::train
