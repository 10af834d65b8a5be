// adaptctl, the real binary, against a live in-process adaptd.
#include <sys/wait.h>

#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/file_util.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/test_server.h"
#include "tests/test_util/text_models.h"
#include "tests/test_util/tiny_models.h"

namespace adaptd::testing {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string out;  // stdout and stderr together.
};

// Runs `command` with /bin/sh and returns its exit code and output.
Result RunShell(const std::string& command) {
  Result result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) result.out.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

void WriteFile(const fs::path& path, const std::string& contents) {
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(WriteFileAtomically(path.string(), contents).ok()) << path;
}

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
    return RunShell(absl::StrCat(ADAPTCTL, " --target=", server_.target(), " ", args, " 2>&1",
                                 stdout_to.empty() ? "" : " >", stdout_to));
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
  // One step: fewer than the meta-learner's refinement steps, so it is what runs.
  Result adapted = Run(absl::StrCat("adapt --backbone tiny --method meta --steps 1 ", *dir_, "/support"));
  EXPECT_EQ(adapted.exit_code, 0) << adapted.out;
  EXPECT_THAT(adapted.out, HasSubstr("adapter_id:"));
  EXPECT_THAT(adapted.out, HasSubstr("method:            meta"));
  EXPECT_THAT(adapted.out, HasSubstr("steps:             1"));
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

TEST_F(AdaptctlTest, FlagsOfAnotherCommandAreUsageErrors) {
  Result r = Run(absl::StrCat("adapt --backbone plain --top_k 3 ", *dir_, "/support"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--top_k does not apply to adapt; it is a flag of predict"));
  r = Run("get --adapter x --backbone plain");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--backbone does not apply to get; it is a flag of adapt, list"));
  r = Run("backbones --noid_only");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--id_only does not apply to backbones"));
  // The flags every command takes are accepted by each.
  r = Run("backbones --json --timeout=10s --nojson");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST_F(AdaptctlTest, IdOnlyPrintsJustTheAdapterId) {
  Result r = Run(absl::StrCat("adapt --backbone plain --method prototype --id_only ", *dir_,
                              "/support"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ASSERT_FALSE(r.out.empty());
  const std::string id = r.out.substr(0, r.out.size() - 1);
  EXPECT_EQ(r.out, id + "\n");
  EXPECT_EQ(id.find_first_of(" \t:"), std::string::npos) << r.out;
  EXPECT_EQ(Run("get --adapter " + id).exit_code, 0);
  r = Run(absl::StrCat("adapt --backbone plain --id_only --json ", *dir_, "/support"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
}

TEST_F(AdaptctlTest, VersionNamesTheBuild) {
  Result r = RunShell(absl::StrCat(ADAPTCTL, " --version 2>&1"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::StartsWith("adaptctl "));
  EXPECT_THAT(r.out, HasSubstr("\ncommit: "));
  EXPECT_THAT(r.out, HasSubstr("\nbuild type: "));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("NDEBUG")));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("LibTorch")));  // The client links none.
}

// Tokens from the flag, a file and the environment, against a server with
// auth on; the token never shows in the output.
class AdaptctlTokenTest : public ::testing::Test {
 protected:
  static TestServerOptions Options() {
    TestServerOptions options;
    options.auth_token_file = TokensFile();
    return options;
  }
  static const std::string& TokensFile() {
    static const std::string* path = [] {
      auto* p = new std::string(MakeTempDir("adaptctl_tokens") + "/tokens");
      EXPECT_TRUE(WriteFileAtomically(*p, "tok-acme-secret acme\n").ok());
      return p;
    }();
    return *path;
  }
  // Runs `adaptctl backbones` with `prefix` (environment assignments) and
  // `flags`; checks that no token was printed.
  Result Backbones(const std::string& prefix, const std::string& flags) {
    Result r = RunShell(absl::StrCat("env -u ADAPTD_TOKEN ", prefix, " ", ADAPTCTL,
                                     " --target=", server_.target(), " backbones ", flags,
                                     " 2>&1"));
    EXPECT_THAT(r.out, ::testing::Not(HasSubstr("tok-")));
    return r;
  }

  TestServer server_{Options()};
};

TEST_F(AdaptctlTokenTest, FlagBeatsFileBeatsEnvironment) {
  const std::string dir = MakeTempDir("adaptctl_token_files");
  const std::string good = dir + "/good", bad = dir + "/bad", empty = dir + "/empty";
  WriteFile(good, "tok-acme-secret\n");
  WriteFile(bad, "tok-wrong\n");
  WriteFile(empty, " \n");

  EXPECT_EQ(Backbones("", "").exit_code, 1);  // No token: UNAUTHENTICATED.
  EXPECT_EQ(Backbones("ADAPTD_TOKEN=tok-acme-secret", "").exit_code, 0);
  EXPECT_EQ(Backbones("", "--token_file=" + good).exit_code, 0);
  EXPECT_EQ(Backbones("ADAPTD_TOKEN=tok-wrong", "--token_file=" + good).exit_code, 0);
  EXPECT_EQ(Backbones("ADAPTD_TOKEN=tok-acme-secret", "--token_file=" + bad).exit_code, 1);
  EXPECT_EQ(Backbones("", "--token=tok-acme-secret --token_file=" + bad).exit_code, 0);
  Result r = Backbones("ADAPTD_TOKEN=tok-acme-secret", "--token=tok-wrong");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("UNAUTHENTICATED"));

  r = Backbones("", "--token_file=" + dir + "/missing");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("--token_file: "));
  r = Backbones("", "--token_file=" + empty);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("the file is empty"));
  r = Backbones("", "--token='tok-with space'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("--token: the token has a space"));
}

// Model control against a repository of its own: "a" (version v1), "b", and
// "broken", whose weights file is missing.
class AdaptctlModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = MakeTempDir("adaptctl_models");
    WriteTinyConv4Model(repo_ + "/a", "a", /*with_meta=*/false, /*seed=*/7);
    config_a_ = ReadFile(repo_ + "/a/model.pbtxt").value();
    SetVersionOfA("v1");
    WriteTinyConv4Model(repo_ + "/b", "b", /*with_meta=*/false, /*seed=*/9);
    WriteTinyConv4Model(repo_ + "/broken", "broken", /*with_meta=*/false);
    fs::remove(repo_ + "/broken/backbone.pt");
    TestServerOptions options;
    options.model_repository = repo_;
    server_ = std::make_unique<TestServer>(options);
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(repo_);
  }

  void SetVersionOfA(const std::string& version) {
    WriteFile(repo_ + "/a/model.pbtxt", absl::StrCat(config_a_, "\nversion: \"", version, "\"\n"));
  }
  Result Run(const std::string& args) {
    return RunShell(absl::StrCat(ADAPTCTL, " --target=", server_->target(), " ", args, " 2>&1"));
  }
  // The output of a command that must succeed with JSON, parsed.
  template <typename Message>
  Message RunJson(const std::string& args) {
    Result r = Run(args + " --json");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    Message message;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &message).ok()) << r.out;
    return message;
  }
  std::vector<std::string> BackboneNames() {
    std::vector<std::string> names;
    const auto list = RunJson<v1::ListBackbonesResponse>("backbones");
    for (const auto& b : list.backbones()) names.push_back(b.name());
    return names;
  }
  v1::ModelStatus StatusOf(const std::string& model) {
    const auto list = RunJson<v1::ListBackbonesResponse>("models");
    for (const auto& s : list.models()) {
      if (s.model() == model) return s;
    }
    ADD_FAILURE() << "no model " << model;
    return {};
  }

  std::string repo_;
  std::string config_a_;
  std::unique_ptr<TestServer> server_;
};

// The line of `table` whose first column is `first`; empty if none.
std::string RowOf(const std::string& table, const std::string& first) {
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    if (absl::StartsWith(line, first + " ")) return line;
  }
  return "";
}

// The value of "`field`: value" in a command's text output.
std::string FieldOf(const std::string& text, const std::string& field) {
  std::string row = RowOf(text, field + ":");
  return std::string(absl::StripAsciiWhitespace(absl::string_view(row).substr(
      std::min(row.size(), field.size() + 1))));
}

TEST_F(AdaptctlModelTest, ModelsAndBackbonesShowStateVersionAndFingerprint) {
  const v1::ModelStatus a = StatusOf("a");
  EXPECT_EQ(a.state(), v1::ModelStatus::READY);
  EXPECT_EQ(a.version(), "v1");
  ASSERT_THAT(a.fingerprint(), ::testing::StartsWith("sha256:"));
  ASSERT_EQ(a.fingerprint().size(), 7u + 64u);
  const std::string short_fingerprint = a.fingerprint().substr(0, 7 + 12);
  const auto models_json = RunJson<v1::ListBackbonesResponse>("models");
  EXPECT_EQ(models_json.models_size(), 3);
  EXPECT_EQ(models_json.backbones_size(), 0);  // `backbones` lists those.

  Result models = Run("models");
  ASSERT_EQ(models.exit_code, 0) << models.out;
  EXPECT_THAT(models.out, ::testing::StartsWith("MODEL "));
  EXPECT_THAT(models.out, HasSubstr("FINGERPRINT"));
  const std::string row_a = RowOf(models.out, "a");
  EXPECT_THAT(row_a, HasSubstr(" READY "));
  EXPECT_THAT(row_a, HasSubstr(" v1 "));
  EXPECT_THAT(row_a, HasSubstr(short_fingerprint + " "));
  EXPECT_THAT(row_a, ::testing::Not(HasSubstr(a.fingerprint())));
  const std::string row_broken = RowOf(models.out, "broken");
  EXPECT_THAT(row_broken, HasSubstr(" FAILED "));
  EXPECT_THAT(row_broken, HasSubstr("backbone_file"));
  EXPECT_THAT(RowOf(models.out, "b"), HasSubstr(" READY "));

  Result backbones = Run("backbones");
  ASSERT_EQ(backbones.exit_code, 0) << backbones.out;
  EXPECT_THAT(backbones.out, HasSubstr(" VERSION "));
  EXPECT_THAT(backbones.out, HasSubstr(" FINGERPRINT"));
  EXPECT_THAT(RowOf(backbones.out, "a"), HasSubstr(" v1 "));
  EXPECT_THAT(RowOf(backbones.out, "a"), ::testing::EndsWith(" " + short_fingerprint));
  EXPECT_THAT(RowOf(backbones.out, "b"), HasSubstr(" - "));  // No version.
  EXPECT_EQ(RowOf(backbones.out, "broken"), "");
}

TEST_F(AdaptctlModelTest, LoadReloadAndUnloadByFolderName) {
  const std::string fingerprint = StatusOf("a").fingerprint();
  Result r = Run("unload a");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(FieldOf(r.out, "model"), "a");
  EXPECT_EQ(FieldOf(r.out, "state"), "UNLOADED");
  EXPECT_EQ(BackboneNames(), std::vector<std::string>{"b"});
  r = Run("unload a");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("error: NOT_FOUND: "));
  r = Run("reload a");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("error: FAILED_PRECONDITION: "));

  r = Run("load a");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(FieldOf(r.out, "state"), "READY");
  EXPECT_EQ(FieldOf(r.out, "backbone"), "a");
  EXPECT_EQ(FieldOf(r.out, "version"), "v1");
  EXPECT_EQ(FieldOf(r.out, "fingerprint"), fingerprint);  // Whole, not cut.
  EXPECT_EQ(BackboneNames(), (std::vector<std::string>{"a", "b"}));

  // A new version label on the same weights: the same fingerprint.
  SetVersionOfA("v2");
  const v1::ModelStatus reloaded = RunJson<v1::ModelStatus>("reload a");
  EXPECT_EQ(reloaded.state(), v1::ModelStatus::READY);
  EXPECT_EQ(reloaded.version(), "v2");
  EXPECT_EQ(reloaded.fingerprint(), fingerprint);
  EXPECT_EQ(StatusOf("a").version(), "v2");

  // A reload that fails exits 1 with the reason; v2 keeps serving.
  fs::remove(repo_ + "/a/backbone.pt");
  r = Run("reload a");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("error: NOT_FOUND: "));
  EXPECT_THAT(r.out, HasSubstr("backbone_file"));
  const v1::ModelStatus a = StatusOf("a");
  EXPECT_EQ(a.state(), v1::ModelStatus::READY);
  EXPECT_EQ(a.version(), "v2");
  EXPECT_THAT(RowOf(Run("models").out, "a"), HasSubstr("reload failed"));

  r = Run("load broken");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("model \"broken\""));
  EXPECT_EQ(StatusOf("broken").state(), v1::ModelStatus::FAILED);
  r = Run("load ../a");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("error: INVALID_ARGUMENT: "));
  r = Run("load nope");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("error: NOT_FOUND: "));
  EXPECT_EQ(BackboneNames(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(AdaptctlModelTest, ModelCommandUsageErrorsExitTwo) {
  Result r = Run("load");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("load: missing an argument; usage: adaptctl load MODEL"));
  r = Run("unload a b");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("unload: too many arguments (2); usage: adaptctl unload MODEL"));
  r = Run("reload ''");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("reload: an argument is empty"));
  r = Run("reload --backbone a a");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("--backbone does not apply to reload"));
  EXPECT_EQ(Run("models a").exit_code, 2);
  // None of them reached the server.
  EXPECT_EQ(StatusOf("a").state(), v1::ModelStatus::READY);
  EXPECT_EQ(StatusOf("a").version(), "v1");
}

// A repository named as the default one (glyphs-conv4 with a meta-learner,
// pictures-conv4, and the text model wordnet-text), made of tiny models.
const std::string& DefaultNamedRepository() {
  static const std::string* repo = [] {
    auto* dir = new std::string(MakeTempDir("adaptctl_default_names"));
    WriteTinyConv4Model(*dir + "/glyphs-conv4", "glyphs-conv4", /*with_meta=*/true);
    WriteTinyConv4Model(*dir + "/pictures-conv4", "pictures-conv4", /*with_meta=*/false);
    TinyTextModelOptions text;
    text.name = "wordnet-text";
    WriteTinyTextModel(*dir + "/wordnet-text", text);
    return dir;
  }();
  return *repo;
}

class AdaptctlTextTest : public ::testing::Test {
 protected:
  static TestServerOptions Options() {
    TestServerOptions options;
    options.model_repository = DefaultNamedRepository();
    return options;
  }
  void SetUp() override { dir_ = MakeTempDir("adaptctl_text"); }
  void TearDown() override { fs::remove_all(dir_); }

  Result Run(const std::string& args) {
    return RunShell(absl::StrCat(ADAPTCTL, " --target=", server_.target(), " ", args, " 2>&1"));
  }
  // A TSV of classes 0..2 with `shots` TinySentences each, labelled class<k>.
  std::string SupportTsv(int shots) {
    std::string tsv;
    for (int c = 0; c < 3; ++c) {
      for (int i = 0; i < shots; ++i) absl::StrAppend(&tsv, "class", c, "\t", TinySentence(c, i), "\n");
    }
    return tsv;
  }
  // Adapts with PROTOTYPE on `support` and returns the adapter id.
  std::string Adapt(const std::string& support) {
    Result r = Run("adapt --backbone wordnet-text --method prototype --id_only " + support);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    return r.out.empty() ? "" : r.out.substr(0, r.out.size() - 1);
  }
  // Predicts with `inputs` (flags) as JSON and returns the labels.
  std::vector<std::string> PredictLabels(const std::string& id, const std::string& inputs) {
    Result r = Run(absl::StrCat("predict --json --adapter ", id, " ", inputs));
    EXPECT_EQ(r.exit_code, 0) << r.out;
    v1::PredictResponse response;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &response).ok()) << r.out;
    std::vector<std::string> labels;
    for (const auto& p : response.predictions()) labels.push_back(p.label());
    return labels;
  }
  std::vector<std::string> Expected() const { return {"class0", "class1", "class2"}; }

  std::string dir_;
  TestServer server_{Options()};
};

TEST_F(AdaptctlTextTest, TsvSupportAndTextPredictions) {
  WriteFile(dir_ + "/support.tsv", "\xEF\xBB\xBF" + SupportTsv(4) + "\r\n\n");  // BOM, CRLF.
  const std::string id = Adapt(dir_ + "/support.tsv");
  ASSERT_FALSE(id.empty());
  // Held-out sentences, one with a comma: --text repeats, it does not split.
  const std::string a = TinySentence(0, 40), b = TinySentence(1, 41) + ", then more",
                    c = TinySentence(2, 42);
  EXPECT_EQ(PredictLabels(id, absl::StrCat("--text '", a, "' --text='", b, "' --text '", c, "'")),
            Expected());
  WriteFile(dir_ + "/queries.txt", absl::StrCat(a, "\n", b, "\r\n", c, "\n"));
  EXPECT_EQ(PredictLabels(id, "--text_file " + dir_ + "/queries.txt"), Expected());
  // The table names each text and its label.
  Result table = Run(absl::StrCat("predict --adapter ", id, " --text '", a, "'"));
  EXPECT_EQ(table.exit_code, 0) << table.out;
  EXPECT_THAT(table.out, HasSubstr("TEXT"));
  EXPECT_THAT(table.out, HasSubstr("class0"));
}

// A labelled TSV (or folder) of queries is scored like a folder of image
// classes: the expected label where it names a class, and the accuracy.
TEST_F(AdaptctlTextTest, LabelledTextQueriesPrintTheAccuracy) {
  WriteFile(dir_ + "/support.tsv", SupportTsv(4));
  const std::string id = Adapt(dir_ + "/support.tsv");
  ASSERT_FALSE(id.empty());
  std::string queries;
  for (int c = 0; c < 3; ++c) {
    for (int i = 50; i < 52; ++i) absl::StrAppend(&queries, "class", c, "\t", TinySentence(c, i), "\n");
  }
  absl::StrAppend(&queries, "unknown\t", TinySentence(0, 60), "\n");  // Not a class: not scored.
  WriteFile(dir_ + "/queries.tsv", queries);
  std::vector<std::string> labels = PredictLabels(id, dir_ + "/queries.tsv");
  ASSERT_EQ(labels.size(), 7u);
  int correct = 0;
  for (int k = 0; k < 6; ++k) correct += labels[k] == Expected()[k / 2];
  Result table = Run(absl::StrCat("predict --adapter ", id, " ", dir_, "/queries.tsv"));
  EXPECT_EQ(table.exit_code, 0) << table.out;
  EXPECT_THAT(table.out, HasSubstr("EXPECTED"));
  EXPECT_THAT(table.out, HasSubstr(absl::StrFormat("accuracy: %d/6 (", correct)));
  // The same texts as a folder of <label>/*.txt.
  for (int c = 0; c < 3; ++c) {
    fs::create_directories(absl::StrCat(dir_, "/q/class", c));
    WriteFile(absl::StrCat(dir_, "/q/class", c, "/a.txt"), TinySentence(c, 50));
  }
  Result folder = Run(absl::StrCat("predict --adapter ", id, " ", dir_, "/q"));
  EXPECT_EQ(folder.exit_code, 0) << folder.out;
  EXPECT_THAT(folder.out, HasSubstr("accuracy: "));
  EXPECT_THAT(folder.out, HasSubstr("/3 ("));
}

TEST_F(AdaptctlTextTest, FolderAndStdinSupportSets) {
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 4; ++i) {
      WriteFile(absl::StrCat(dir_, "/folders/class", c, "/", i, ".txt"), TinySentence(c, i) + "\n");
    }
  }
  const std::string from_folders = Adapt(dir_ + "/folders");
  ASSERT_FALSE(from_folders.empty());
  EXPECT_EQ(PredictLabels(from_folders, absl::StrCat("--text '", TinySentence(2, 50), "'")),
            std::vector<std::string>{"class2"});

  WriteFile(dir_ + "/support.tsv", SupportTsv(4));
  Result piped = RunShell(absl::StrCat("cat ", dir_, "/support.tsv | ", ADAPTCTL, " --target=",
                                       server_.target(),
                                       " adapt --backbone wordnet-text --json - 2>&1"));
  EXPECT_EQ(piped.exit_code, 0) << piped.out;
  v1::AdaptResponse response;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(piped.out, &response).ok()) << piped.out;
  EXPECT_EQ(response.adapter().support_size(), 12);
  EXPECT_THAT(response.adapter().labels(), ::testing::ElementsAre("class0", "class1", "class2"));
}

TEST_F(AdaptctlTextTest, BadTextInputsAreNamed) {
  const std::string tsv = dir_ + "/bad.tsv";
  const auto adapt_error = [&](const std::string& contents) {
    WriteFile(tsv, contents);
    Result r = Run("adapt --backbone wordnet-text " + tsv);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    return r.out;
  };
  EXPECT_THAT(adapt_error("a\tone\nb two\n"), HasSubstr(tsv + ":2: no tab"));
  EXPECT_THAT(adapt_error("a\tone\nb\t  \n"), HasSubstr(tsv + ":2: empty text"));
  EXPECT_THAT(adapt_error("a\tone\n\tthree\n"), HasSubstr(tsv + ":2: empty label"));
  EXPECT_THAT(adapt_error("a\tok\nb\tbad \xC3\x28 byte\n"),
              HasSubstr(tsv + ":2: invalid UTF-8 at byte 6"));
  EXPECT_THAT(adapt_error("\n  \n"), HasSubstr("no examples"));

  fs::create_directories(dir_ + "/empty");
  Result r = Run("adapt --backbone wordnet-text " + dir_ + "/empty");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("no class folders"));
  WriteFile(dir_ + "/images/cat/0.png", EncodePng(SyntheticImage(0, 0), kSide, kSide));
  r = Run("adapt --backbone wordnet-text " + dir_ + "/images");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("no .txt files"));

  WriteFile(dir_ + "/q.txt", "one\n\nthree\n");
  r = Run("predict --adapter x --text_file " + dir_ + "/q.txt");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr(dir_ + "/q.txt:2: empty line"));
  r = Run("predict --adapter x --text \"$(printf 'bad \\377')\"");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--text #1: invalid UTF-8"));
  r = Run("predict --adapter x --text ''");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("--text: empty value"));
  r = Run("predict --adapter x --text hello " + dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("not both"));
}

TEST_F(AdaptctlTextTest, ModalityMismatchesAreExplained) {
  WriteFile(dir_ + "/support.tsv", SupportTsv(2));
  Result r = Run("adapt --backbone glyphs-conv4 " + dir_ + "/support.tsv");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("backbone glyphs-conv4 takes images"));
  WriteFile(dir_ + "/texts/a/0.txt", "some text");
  r = Run("adapt --backbone glyphs-conv4 " + dir_ + "/texts");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("are for text backbones"));
  r = Run("adapt --backbone nope " + dir_ + "/support.tsv");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("NOT_FOUND: backbone: unknown backbone \"nope\"; the server has: "
                               "glyphs-conv4, pictures-conv4, wordnet-text"));
}

// The help's examples, run as written with the shell, against a server whose
// models have the default models' names, in a folder with demo/ as `make
// run` makes it. Only the address is added.
TEST_F(AdaptctlTextTest, HelpExamplesRunAsWritten) {
  Result help = RunShell(absl::StrCat(ADAPTCTL, " --help"));
  ASSERT_EQ(help.exit_code, 0);
  const size_t begin = help.out.find("Examples");
  const size_t end = help.out.find("\nErrors go");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  std::string script = absl::StrCat("set -e\nadaptctl() { ", ADAPTCTL, " --target=",
                                    server_.target(), " \"$@\"; }\n");
  int commands = 0;
  std::istringstream lines(help.out.substr(begin, end - begin));
  for (std::string line; std::getline(lines, line);) {
    if (!absl::StartsWith(line, "  ")) continue;  // Prose.
    absl::StrAppend(&script, line, "\n");
    commands += absl::StrContains(line, "adaptctl ");
  }
  EXPECT_GE(commands, 10);
  for (const char* split : {"support", "query"}) {
    for (const char* label : {"bag", "sandal", "trouser"}) {
      for (int i = 0; i < 8; ++i) {
        WriteFile(absl::StrCat(dir_, "/demo/", split, "/", label, "/", i, ".png"),
                  EncodePng(SyntheticImage(label[0], i), kSide, kSide));
      }
    }
  }
  WriteFile(dir_ + "/examples.sh", script);
  Result r = RunShell(absl::StrCat("cd ", dir_, " && bash examples.sh 2>&1"));
  EXPECT_EQ(r.exit_code, 0) << script << "\n" << r.out;
  EXPECT_THAT(r.out, HasSubstr("deleted "));
  EXPECT_THAT(r.out, HasSubstr("SERVING"));
}

}  // namespace
}  // namespace adaptd::testing
