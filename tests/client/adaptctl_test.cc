// adaptctl, the real binary, against a live in-process adaptd.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "server/common/file_util.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/test_server.h"

namespace adaptd::testing {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string out;  // stdout and stderr together.
};

class AdaptctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("adaptctl_test"));
    // Class folders of PNGs: support instances 0..2, queries 10..12.
    for (int c = 0; c < 3; ++c) {
      for (const auto& [split, first] : {std::pair<const char*, int>{"support", 0}, {"query", 10}}) {
        const fs::path folder = fs::path(*dir_) / split / absl::StrCat("c", c);
        fs::create_directories(folder);
        for (int i = first; i < first + 3; ++i) {
          ASSERT_TRUE(WriteFileAtomically((folder / absl::StrCat(i, ".png")).string(),
                                          EncodePng(SyntheticImage(c, i), kSide, kSide))
                          .ok());
        }
      }
    }
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  // `stdout_to`: a file for stdout alone; empty: stdout and stderr together.
  Result Run(const std::string& args, const std::string& stdout_to = "") {
    const std::string command =
        absl::StrCat(ADAPTCTL, " --target=", server_.target(), " ", args, " 2>&1",
                     stdout_to.empty() ? "" : " >", stdout_to);
    Result result;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) result.out.append(buffer, n);
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
  }

  std::string AdaptJson(const std::string& args) {
    Result r = Run("adapt --json " + args);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    v1::AdaptResponse response;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &response).ok()) << r.out;
    return response.adapter().adapter_id();
  }

  static std::string* dir_;
  TestServer server_;
};

std::string* AdaptctlTest::dir_ = nullptr;

TEST_F(AdaptctlTest, BackbonesAndHealth) {
  Result r = Run("backbones");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("tiny"));
  EXPECT_THAT(r.out, HasSubstr("plain"));
  r = Run("health");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("SERVING"));
}

TEST_F(AdaptctlTest, AdaptPredictGetListDelete) {
  Result adapted = Run(absl::StrCat("adapt --backbone tiny --method meta --steps 3 ", *dir_, "/support"));
  EXPECT_EQ(adapted.exit_code, 0) << adapted.out;
  EXPECT_THAT(adapted.out, HasSubstr("adapter_id:"));
  EXPECT_THAT(adapted.out, HasSubstr("method:            meta"));
  EXPECT_THAT(adapted.out, HasSubstr("steps:             3"));
  EXPECT_THAT(adapted.out, HasSubstr("c0, c1, c2"));

  const std::string id = AdaptJson(absl::StrCat("--backbone plain --method prototype ", *dir_, "/support"));
  ASSERT_FALSE(id.empty());
  Result predicted = Run(absl::StrCat("predict --adapter ", id, " ", *dir_, "/query"));
  EXPECT_EQ(predicted.exit_code, 0) << predicted.out;
  int correct = 0, total = 0;
  const size_t at = predicted.out.find("accuracy: ");
  ASSERT_NE(at, std::string::npos) << predicted.out;
  ASSERT_EQ(std::sscanf(predicted.out.c_str() + at, "accuracy: %d/%d", &correct, &total), 2);
  EXPECT_EQ(total, 9);
  EXPECT_GE(correct, 7);

  Result got = Run("get --adapter " + id);
  EXPECT_EQ(got.exit_code, 0) << got.out;
  EXPECT_THAT(got.out, HasSubstr(id));
  Result listed = Run("list --backbone plain");
  EXPECT_EQ(listed.exit_code, 0) << listed.out;
  EXPECT_THAT(listed.out, HasSubstr(id));
  Result deleted = Run("delete --adapter " + id);
  EXPECT_EQ(deleted.exit_code, 0) << deleted.out;
  Result gone = Run("get --adapter " + id);
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_THAT(gone.out, HasSubstr("error: NOT_FOUND: adapter_id"));
}

TEST_F(AdaptctlTest, ServerErrorsArePrintedAndExitNonZero) {
  Result r = Run(absl::StrCat("adapt --backbone nope ", *dir_, "/support"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("error: NOT_FOUND: backbone: unknown backbone \"nope\""));
  r = Run(absl::StrCat("adapt --backbone plain --method meta ", *dir_, "/support"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("FAILED_PRECONDITION"));
}

TEST_F(AdaptctlTest, OutputThatCannotBeWrittenIsAnError) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  Result r = Run("backbones", "/dev/full");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("error: RESOURCE_EXHAUSTED: writing the output"));
  r = Run("--help", "/dev/full");
  EXPECT_EQ(r.exit_code, 1) << r.out;
}

TEST_F(AdaptctlTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Run("").exit_code, 2);
  EXPECT_EQ(Run("frobnicate").exit_code, 2);
  Result r = Run("predict");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("--adapter"));
}

}  // namespace
}  // namespace adaptd::testing
