// Reports written as JSON (json_report.h, evaluate.h): whatever the names
// and figures, the file parses.
#include "train/json_report.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gtest/gtest.h"
#include "tests/train/test_data.h"
#include "train/evaluate.h"

namespace adaptd::train {
namespace {
using testing::TempDir;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(JsonReportTest, NamesAreEscapedAndNanIsNull) {
  TempDir dir;
  EvalReport report;
  EvalRow row;
  row.domain = "clip\"art\\groups";
  row.method = "META-5";
  row.ways = 5;
  row.shots = 1;
  row.accuracy = std::nan("");
  row.ci95 = std::numeric_limits<double>::infinity();
  row.adapt_ms_mean = 0.123456789;
  report.rows.push_back(row);
  report.paired.push_back({row.domain, "PROTO\"TYPE", 5, 1, std::nan(""), 0.01});
  report.curve.push_back({"META", 1, 5, 0.5, 0.01});
  report.finetune_lr = 0.03;
  const std::string path = dir / "out/eval.json";  // Its folder is made.
  ASSERT_TRUE(WriteEvalReport(report, path, "", "").ok());

  const nlohmann::json json = nlohmann::json::parse(ReadText(path));
  ASSERT_EQ(json["rows"].size(), 1u);
  const nlohmann::json& written = json["rows"][0];
  EXPECT_EQ(written["domain"], "clip\"art\\groups");
  EXPECT_TRUE(written["accuracy"].is_null());
  EXPECT_TRUE(written["ci95"].is_null());
  EXPECT_EQ(written["adapt_ms_mean"], 0.1235);  // Rounded as the report shows it.
  EXPECT_EQ(json["meta_minus_baseline"][0]["baseline"], "PROTO\"TYPE");
  EXPECT_TRUE(json["meta_minus_baseline"][0]["delta"].is_null());
  EXPECT_EQ(json["curve"][0]["accuracy"], 0.5);
  EXPECT_EQ(json["finetune_lr"], 0.03);
  // Keys keep the order the report has always had.
  EXPECT_EQ(nlohmann::ordered_json::parse(ReadText(path)).begin().key(), "finetune_lr");
}

TEST(JsonReportTest, BytesThatAreNotUtf8DoNotFailTheReport) {
  nlohmann::ordered_json json = {{"name", std::string("caf\xe9")}};
  const std::string text = JsonText(json);
  EXPECT_EQ(nlohmann::json::parse(text)["name"], "caf\xef\xbf\xbd");
  EXPECT_EQ(text.back(), '\n');
}

TEST(JsonReportTest, AFailedWriteIsAnError) {
  TempDir dir;
  const std::string blocker = dir / "file";
  std::ofstream(blocker) << "x";
  EXPECT_FALSE(WriteJsonFile(blocker + "/report.json", {{"a", 1}}).ok());
  EXPECT_FALSE(WriteEvalReport(EvalReport(), "", blocker + "/eval.md", "").ok());
}

}  // namespace
}  // namespace adaptd::train
