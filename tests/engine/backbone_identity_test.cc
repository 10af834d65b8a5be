// Backbone identity: the fingerprint covers weights, preprocessing, shape
// and tokenizer files (and not the name or version); an adapter fitted on
// another fingerprint is refused after a restart on a directory store, and
// an unchanged restart keeps every adapter serving.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "adaptd/v1/model_config.pb.h"
#include "server/common/file_util.h"
#include "server/engine/engine.h"
#include "server/engine/model/fingerprint.h"
#include "tests/test_util/requests.h"
#include "tests/test_util/store_engines.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/tiny_models.h"

namespace adaptd::engine {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::PredictProbes;
using testing::SamePredictions;

v1::ModelConfig ReadModelConfig(const std::string& folder) {
  auto text = ReadFile(folder + "/model.pbtxt");
  EXPECT_TRUE(text.ok()) << text.status();
  v1::ModelConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text.value_or(""), &config));
  return config;
}

void WriteModelConfig(const std::string& folder, const v1::ModelConfig& config) {
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
  ASSERT_TRUE(WriteFileAtomically(folder + "/model.pbtxt", text).ok());
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string MustFingerprint(const v1::ModelConfig& config, const std::string& folder) {
  auto fingerprint = ModelFingerprint(config, folder);
  EXPECT_TRUE(fingerprint.ok()) << fingerprint.status();
  return fingerprint.value_or("");
}

TEST(Sha256Test, MatchesTheStandardVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

class FingerprintTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("adaptd_fingerprint"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FingerprintTest, ChangesWithWeightsPreprocessingAndShapeOnly) {
  const std::string folder = dir_ + "/m";
  testing::WriteTinyConv4Model(folder, "m", /*with_meta=*/false, /*seed=*/7);
  const v1::ModelConfig config = ReadModelConfig(folder);
  const std::string original = MustFingerprint(config, folder);
  EXPECT_THAT(original, ::testing::MatchesRegex("sha256:[0-9a-f]{64}"));
  EXPECT_EQ(MustFingerprint(config, folder), original);

  v1::ModelConfig relabelled = config;
  relabelled.set_name("other");
  relabelled.set_version("v2");
  relabelled.set_default_method("finetune");
  EXPECT_EQ(MustFingerprint(relabelled, folder), original) << "name, version, methods";

  v1::ModelConfig preprocessing = config;
  preprocessing.mutable_preprocessing()->set_mean(0, 0.25f);
  EXPECT_NE(MustFingerprint(preprocessing, folder), original) << "preprocessing mean";

  v1::ModelConfig shape = config;
  shape.set_input_shape(1, 32);
  EXPECT_NE(MustFingerprint(shape, folder), original) << "input_shape";

  testing::WriteTinyConv4Model(folder, "m", /*with_meta=*/false, /*seed=*/8);
  EXPECT_NE(MustFingerprint(config, folder), original) << "weights";
}

TEST_F(FingerprintTest, TextBackbonesHashTheirTokenizerFilesNotTheirNames) {
  v1::ModelConfig config;
  config.set_modality("text");
  config.set_format("torchscript");
  config.set_feature_dim(8);
  config.set_backbone_file("encoder.pt");
  config.mutable_text()->set_vocab_file("vocab.txt");
  config.mutable_text()->set_max_seq_length(16);
  WriteBytes(dir_ + "/encoder.pt", "weights");
  WriteBytes(dir_ + "/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
  const std::string original = MustFingerprint(config, dir_);

  WriteBytes(dir_ + "/renamed.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
  v1::ModelConfig renamed = config;
  renamed.mutable_text()->set_vocab_file("renamed.txt");
  EXPECT_EQ(MustFingerprint(renamed, dir_), original) << "same vocabulary, other file name";

  v1::ModelConfig cased = config;
  cased.mutable_text()->set_lower_case(true);
  EXPECT_NE(MustFingerprint(cased, dir_), original) << "lower_case";

  WriteBytes(dir_ + "/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nworld\n");
  const std::string new_vocab = MustFingerprint(config, dir_);
  EXPECT_NE(new_vocab, original) << "vocabulary";

  // Any tokenizer file the text config names counts, e.g. a SentencePiece model.
  v1::ModelConfig sentencepiece = config;
  sentencepiece.mutable_text()->set_sentencepiece_file("spm.model");
  WriteBytes(dir_ + "/spm.model", "pieces-1");
  const std::string spm = MustFingerprint(sentencepiece, dir_);
  WriteBytes(dir_ + "/spm.model", "pieces-2");
  EXPECT_NE(MustFingerprint(sentencepiece, dir_), spm) << "sentencepiece_file";

  fs::remove(dir_ + "/vocab.txt");
  auto missing = ModelFingerprint(config, dir_);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("text.vocab_file"));
}

// Engines over a repository of one model, "m", and a directory store.
class StaleAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = testing::MakeTempDir("adaptd_identity_repo");
    store_dir_ = testing::MakeTempDir("adaptd_identity_store");
    testing::WriteTinyConv4Model(repo_ + "/m", "m", /*with_meta=*/false, /*seed=*/7);
  }
  void TearDown() override {
    fs::remove_all(repo_);
    fs::remove_all(store_dir_);
  }

  std::unique_ptr<Engine> Open(bool delete_stale = false) {
    Engine::Options options = testing::StoreTestEngineOptions();
    options.model_repository = repo_;
    options.persistence.backend = "directory";
    options.persistence.directory = store_dir_;
    options.delete_stale_adapters = delete_stale;
    options.on_stale_adapter = [this](const AdapterInfo& info) {
      absl::MutexLock lock(&mu_);
      stale_.push_back(info.adapter_id);
    };
    auto engine = Engine::Create(options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? *std::move(engine) : nullptr;
  }

  std::string MustAdapt(Engine& engine, int first_class) {
    auto adapter = engine.Adapt(builder_.Adapt("m", 3, 3, Method::kPrototype, first_class), ctx_);
    EXPECT_TRUE(adapter.ok()) << adapter.status();
    return adapter.ok() ? (*adapter)->info.adapter_id : "";
  }

  std::vector<std::string> Stale() {
    absl::MutexLock lock(&mu_);
    return stale_;
  }

  std::string repo_, store_dir_;
  CallContext ctx_;
  testing::RequestBuilder builder_;
  absl::Mutex mu_;
  std::vector<std::string> stale_ ABSL_GUARDED_BY(mu_);
};

TEST_F(StaleAdapterTest, AdapterFittedOnOldWeightsIsRefusedAfterARestart) {
  std::string id;
  std::string old_fingerprint;
  {
    auto engine = Open();
    ASSERT_NE(engine, nullptr);
    old_fingerprint = engine->ListBackbones().at(0).fingerprint;
    id = MustAdapt(*engine, 0);
    auto adapter = engine->GetAdapter(id, ctx_);
    ASSERT_TRUE(adapter.ok());
    EXPECT_EQ((*adapter)->info.backbone_fingerprint, old_fingerprint);
  }
  testing::WriteTinyConv4Model(repo_ + "/m", "m", /*with_meta=*/false, /*seed=*/8);
  auto engine = Open();
  ASSERT_NE(engine, nullptr);
  EXPECT_NE(engine->ListBackbones().at(0).fingerprint, old_fingerprint);
  auto predicted = PredictProbes(*engine, id, ctx_);
  EXPECT_EQ(predicted.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(predicted.status().message(), HasSubstr(id));
  EXPECT_THAT(predicted.status().message(), HasSubstr("has changed since"));
  EXPECT_THAT(predicted.status().message(), HasSubstr("call Adapt again"));
  // Counted once, however often it is refused; still stored (no deletion asked).
  EXPECT_FALSE(PredictProbes(*engine, id, ctx_).ok());
  EXPECT_EQ(Stale(), std::vector<std::string>{id});
  EXPECT_TRUE(engine->GetAdapter(id, ctx_).ok());
  // A new adapter on the new backbone serves.
  const std::string fresh = MustAdapt(*engine, 0);
  EXPECT_TRUE(PredictProbes(*engine, fresh, ctx_).ok());
}

TEST_F(StaleAdapterTest, DeleteStaleAdaptersRemovesThemAtLoad) {
  std::string id;
  {
    auto engine = Open();
    ASSERT_NE(engine, nullptr);
    id = MustAdapt(*engine, 0);
  }
  v1::ModelConfig config = ReadModelConfig(repo_ + "/m");
  config.mutable_preprocessing()->set_mean(0, 0.25f);
  WriteModelConfig(repo_ + "/m", config);
  auto engine = Open(/*delete_stale=*/true);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(Stale(), std::vector<std::string>{id});
  EXPECT_EQ(engine->GetAdapter(id, ctx_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine->store_info().adapters, 0);
}

TEST_F(StaleAdapterTest, AnUnchangedRestartKeepsEveryAdapterServing) {
  std::vector<std::pair<std::string, std::vector<Prediction>>> before;
  {
    auto engine = Open();
    ASSERT_NE(engine, nullptr);
    for (int first : {0, 3, 6}) {
      const std::string id = MustAdapt(*engine, first);
      auto predictions = PredictProbes(*engine, id, ctx_);
      ASSERT_TRUE(predictions.ok()) << predictions.status();
      before.emplace_back(id, *predictions);
    }
  }
  // A new version label alone is no change of identity.
  v1::ModelConfig config = ReadModelConfig(repo_ + "/m");
  config.set_version("2");
  WriteModelConfig(repo_ + "/m", config);
  auto engine = Open(/*delete_stale=*/true);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->ListBackbones().at(0).version, "2");
  for (const auto& [id, predictions] : before) {
    auto after = PredictProbes(*engine, id, ctx_);
    ASSERT_TRUE(after.ok()) << id << ": " << after.status();
    std::string why;
    EXPECT_TRUE(SamePredictions(*after, predictions, &why)) << id << ": " << why;
  }
  EXPECT_TRUE(Stale().empty());
}

}  // namespace
}  // namespace adaptd::engine
