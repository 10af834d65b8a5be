// Meta-training on a small synthetic task family, and the round trip from
// the trainer to adaptd: what adapt-train measures is what adaptd serves.
#include "train/metatrain.h"

#include <filesystem>

#include <torch/torch.h>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "server/engine/adapt/adaptation.h"
#include "server/engine/model/backbone.h"
#include "server/engine/engine.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/tiny_models.h"
#include "train/episodes.h"
#include "train/evaluate.h"
#include "train/export.h"
#include "train/features.h"
#include "train/pretrain.h"

namespace adaptd::train {
namespace {

namespace fs = std::filesystem;

// Classes [first, first + count) of the synthetic blob family, `instances`
// images each, four classes to a group.
Dataset SyntheticDataset(int first, int count, int instances) {
  Dataset data;
  for (int c = first; c < first + count; ++c) {
    if ((c - first) % 4 == 0) data.AddGroup(absl::StrCat("group", c / 4));
    const int32_t label = data.AddClass(absl::StrCat("class", c), data.num_groups() - 1);
    for (int i = 0; i < instances; ++i) data.AddImage(label, adaptd::testing::SyntheticImage(c, i).data());
  }
  return data;
}

class MetaTrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(adaptd::testing::MakeTempDir("metatrain_test"));
    // A briefly pretrained backbone, so that features carry the classes.
    const Dataset train = SyntheticDataset(0, 40, 12);
    PretrainOptions pretrain;
    pretrain.work_dir = *dir_ + "/pretrain";
    pretrain.epochs = 1;
    pretrain.max_steps = 60;
    pretrain.batch_size = 32;
    pretrain.eval_episodes = 0;
    pretrain.threads = 1;
    pretrain.progress = false;
    ASSERT_TRUE(Pretrain(train, Dataset(), pretrain).ok());
    ExportOptions export_options;
    export_options.weights = *dir_ + "/pretrain/backbone.pt";
    export_options.out_dir = *dir_ + "/tiny";
    export_options.name = "tiny";
    ASSERT_TRUE(ExportPretrained(export_options).ok());
    MetaTrainOptions options;
    options.model_dir = *dir_ + "/tiny";
    options.work_dir = *dir_ + "/work";
    options.steps = 40;
    options.meta_batch = 4;
    options.meta_lr = 3e-3;
    options.hidden = 32;
    options.rank = 8;
    options.refine_steps = 1;
    options.settings = {{5, 1}, {5, 3}};
    options.queries = 5;
    options.val_every = 20;
    options.val_episodes = 40;
    options.threads = 1;
    options.progress = false;
    auto report = MetaTrain({train}, {SyntheticDataset(100, 20, 12)}, options);
    ASSERT_TRUE(report.ok()) << report.status();
    report_ = new MetaTrainReport(*report);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete report_;
  }

  // A short single-threaded run on the tiny model, quiet, into work_dir.
  static MetaTrainOptions QuickOptions(const std::string& work) {
    MetaTrainOptions options;
    options.model_dir = *dir_ + "/tiny";
    options.work_dir = *dir_ + "/" + work;
    options.meta_batch = 2;
    options.settings = {{5, 1}};
    options.queries = 3;
    options.threads = 1;
    options.progress = false;
    return options;
  }

  static std::string* dir_;
  static MetaTrainReport* report_;
};

std::string* MetaTrainTest::dir_ = nullptr;
MetaTrainReport* MetaTrainTest::report_ = nullptr;

TEST_F(MetaTrainTest, BeatsItsUntrainedStateOnHeldOutTasks) {
  ASSERT_NE(report_, nullptr);
  EXPECT_EQ(report_->steps_done, 40);
  ASSERT_EQ(report_->val_loss.size(), 2u);
  // Held-out classes (100..119) never seen in meta-training. Untrained, the
  // meta-learner is PROTOTYPE (99% here, no room in accuracy: the accuracy
  // gain over PROTOTYPE is meta_learner_test's, on a family with room), so
  // the query loss on the same episodes is what it must lower.
  EXPECT_LT(report_->val_loss.back().second, 0.9 * report_->untrained_val_loss)
      << "untrained " << report_->untrained_val_loss;
  EXPECT_GE(report_->val_accuracy.back().second, report_->untrained_val_accuracy - 0.02);
  EXPECT_GT(report_->parameters, 0);
  EXPECT_TRUE(fs::exists(report_->meta_learner_path));
}

// choose-default's rule on the generator: META ships only when it beats
// PROTOTYPE and FINETUNE-5 on meta-val beyond the paired 95% CI; otherwise
// FINETUNE where it beats PROTOTYPE so, else PROTOTYPE, is the default.
TEST_F(MetaTrainTest, SelectionShipsOnlyAMetaLearnerThatWins) {
  ASSERT_NE(report_, nullptr);
  const Dataset val = SyntheticDataset(100, 20, 12);
  auto backbone = engine::Backbone::Load(*dir_ + "/tiny", c10::Device(c10::kCPU));
  ASSERT_TRUE(backbone.ok()) << backbone.status();
  // Untrained, it is PROTOTYPE: it cannot win, so it is dropped.
  engine::MetaLearnerOptions sizes;
  sizes.feature_dim = (*backbone)->info().feature_dim;
  engine::MetaLearner untrained(sizes);
  const std::string untrained_path = *dir_ + "/untrained_meta.pt";
  ASSERT_TRUE(engine::SaveMetaLearner(untrained, untrained_path).ok());
  for (const std::string& meta_path : {untrained_path, report_->meta_learner_path}) {
    ExportOptions export_options;
    export_options.weights = *dir_ + "/pretrain/backbone.pt";
    export_options.meta_learner = meta_path;
    export_options.out_dir = *dir_ + "/choice";
    export_options.name = "choice";
    ASSERT_TRUE(ExportPretrained(export_options).ok());
    auto choice = ChooseDefaultMethod({val}, export_options.out_dir, 30, 1, "cpu");
    ASSERT_TRUE(choice.ok()) << choice.status();
    ASSERT_TRUE(choice->has_meta);
    const bool wins = choice->meta_vs_prototype > choice->meta_vs_prototype_ci &&
                      choice->meta_vs_finetune > choice->meta_vs_finetune_ci;
    EXPECT_EQ(choice->keep_meta, wins) << choice->reason;
    // FINETUNE is the fallback only where it too wins beyond the CI.
    const std::string baseline =
        choice->finetune_vs_prototype > choice->finetune_vs_prototype_ci ? "finetune" : "prototype";
    EXPECT_NEAR(choice->finetune_vs_prototype, choice->finetune - choice->prototype, 1e-9);
    EXPECT_GT(choice->finetune_vs_prototype_ci, 0);
    EXPECT_EQ(choice->default_method, wins ? "meta" : baseline) << choice->reason;
    if (meta_path == untrained_path) {
      EXPECT_EQ(choice->meta_vs_prototype, 0) << choice->reason;
      EXPECT_FALSE(choice->keep_meta) << choice->reason;
    }
  }
}

TEST_F(MetaTrainTest, ResumesOnlyTheSameRun) {
  const Dataset train = SyntheticDataset(0, 40, 12);
  MetaTrainOptions options = QuickOptions("resume");
  options.steps = 3;
  options.hidden = 16;
  options.val_every = 0;
  options.resume = true;
  auto first = MetaTrain({train}, {}, options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->step_loss.size(), 3u);
  // The same run for more steps goes on from step 3.
  options.steps = 5;
  auto more = MetaTrain({train}, {}, options);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_EQ(more->steps_done, 5);
  EXPECT_EQ(more->step_loss.size(), 2u);
  // Another task domain makes it another run: it starts over.
  auto other = MetaTrain({train, SyntheticDataset(40, 20, 12)}, {}, options);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->steps_done, 5);
  EXPECT_EQ(other->step_loss.size(), 5u);
}

TEST_F(MetaTrainTest, LeavesOutSettingsADomainCannotServe) {
  MetaTrainOptions options = QuickOptions("settings");
  options.steps = 2;
  options.hidden = 16;
  options.settings = {{5, 1}, {20, 1}};
  options.val_every = 1;
  options.val_episodes = 2;
  // Six classes serve 5-way tasks only; the val set's 5-shot tasks get the
  // queries its classes have left (8 images: 3).
  auto ok = MetaTrain({SyntheticDataset(0, 40, 12), SyntheticDataset(40, 6, 12)},
                      {SyntheticDataset(100, 6, 8)}, options);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->steps_done, 2);
  EXPECT_EQ(ok->val_accuracy.size(), 2u);
  // Three classes serve none of them: a clear error, not a crash.
  auto bad = MetaTrain({SyntheticDataset(0, 40, 12), SyntheticDataset(40, 3, 12)}, {}, options);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("too few classes"), std::string::npos) << bad.status();
}

TEST_F(MetaTrainTest, RefusesADeviceItCannotUseBeforeAnyWork) {
  MetaTrainOptions options = QuickOptions("refused");
  options.steps = 1;
  options.device = "tpu";
  auto bad = MetaTrain({SyntheticDataset(0, 40, 12)}, {}, options);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  EXPECT_NE(bad.status().message().find("--device"), std::string::npos) << bad.status();
  if (!torch::cuda::is_available()) {
    options.device = "cuda";
    auto no_cuda = MetaTrain({SyntheticDataset(0, 40, 12)}, {}, options);
    EXPECT_EQ(no_cuda.status().code(), absl::StatusCode::kFailedPrecondition) << no_cuda.status();
    EXPECT_NE(no_cuda.status().message().find("use --device cpu"), std::string::npos)
        << no_cuda.status();
  }
  EXPECT_FALSE(fs::exists(*dir_ + "/refused"));
}

// A run on a GPU resumes on the CPU and the other way round, and the
// meta-learner it keeps, saved while it trains on the GPU, loads without
// CUDA.
TEST_F(MetaTrainTest, ResumesAcrossTheCpuAndAGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "this LibTorch has no CUDA device";
  const Dataset train = SyntheticDataset(0, 40, 12);
  const Dataset val = SyntheticDataset(100, 20, 12);
  MetaTrainOptions options = QuickOptions("devices");
  options.hidden = 16;
  options.val_every = 1;
  options.val_episodes = 4;
  options.resume = true;
  int steps = 0;
  for (const char* device : {"cuda", "cpu", "cuda:0"}) {
    options.device = device;
    options.steps = steps += 2;
    auto report = MetaTrain({train}, {val}, options);
    ASSERT_TRUE(report.ok()) << device << ": " << report.status();
    EXPECT_EQ(report->steps_done, steps) << device;
    EXPECT_EQ(report->step_loss.size(), 2u) << device;
    EXPECT_EQ(report->val_accuracy.size(), 2u) << device;
    engine::MetaLearner meta;
    EXPECT_TRUE(engine::LoadMetaLearner(report->meta_learner_path, &meta).ok()) << device;
  }
}

TEST_F(MetaTrainTest, ExportedModelServesTheTrainersPredictions) {
  ASSERT_NE(report_, nullptr);
  ExportOptions export_options;
  export_options.weights = *dir_ + "/pretrain/backbone.pt";
  export_options.meta_learner = report_->meta_learner_path;
  export_options.out_dir = *dir_ + "/repo/exported";
  export_options.name = "exported";
  ASSERT_TRUE(ExportPretrained(export_options).ok());

  // The trainer's view: features of the episode, META adaptation, logits.
  Dataset test = SyntheticDataset(200, 8, 6);
  auto sampler = EpisodeSampler::Create(test, {5, 2, 3, 9});
  ASSERT_TRUE(sampler.ok());
  Episode episode = sampler->Sample(0);
  auto backbone = engine::Backbone::Load(export_options.out_dir, c10::Device(c10::kCPU));
  ASSERT_TRUE(backbone.ok()) << backbone.status();
  ASSERT_NE((*backbone)->meta_learner(), nullptr);
  auto features = EmbedDataset(**backbone, test);
  ASSERT_TRUE(features.ok());
  auto rows = [&](const std::vector<int64_t>& ids) {
    return features->index_select(0, torch::tensor(ids, torch::kLong));
  };
  auto labels = torch::tensor(std::vector<int64_t>(episode.support_labels.begin(),
                                                   episode.support_labels.end()));
  auto head = engine::AdaptHead(engine::Method::kMeta, rows(episode.support), labels, 5,
                                (*backbone)->meta_learner(), {});
  ASSERT_TRUE(head.ok());
  auto trainer_probs =
      torch::softmax(engine::HeadLogits(rows(episode.query), head->weight, head->bias), 1);

  // adaptd's view of the same episode, through the engine API.
  engine::Engine::Options options;
  options.model_repository = *dir_ + "/repo";
  options.device = "cpu";
  auto engine = engine::Engine::Create(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  engine::Engine::AdaptRequest adapt;
  adapt.backbone = "exported";
  adapt.method = engine::Method::kMeta;
  auto input = [&](int64_t image) {
    engine::InputRef ref;
    ref.kind = engine::InputRef::Kind::kTensor;
    ref.shape = {1, 28, 28};
    ref.dtype = engine::DType::kUint8;
    ref.data = absl::string_view(reinterpret_cast<const char*>(test.image(image)), kImagePixels);
    return ref;
  };
  for (size_t i = 0; i < episode.support.size(); ++i) {
    adapt.support.push_back({absl::StrCat("L", episode.support_labels[i]), input(episode.support[i])});
  }
  auto adapter = (*engine)->Adapt(adapt, {});
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  EXPECT_EQ((*adapter)->info.method, engine::Method::kMeta);
  engine::Engine::PredictRequest predict;
  predict.adapter_id = (*adapter)->info.adapter_id;
  for (int64_t q : episode.query) predict.inputs.push_back(input(q));
  auto result = (*engine)->Predict(predict, {});
  ASSERT_TRUE(result.ok()) << result.status();
  for (size_t i = 0; i < episode.query.size(); ++i) {
    const auto& p = result->predictions[i];
    // Labels "L<k>" were given in first-appearance order 0..4.
    const int64_t k = std::stoi(p.label.substr(1));
    EXPECT_EQ(k, trainer_probs[i].argmax().item<int64_t>()) << "query " << i;
    EXPECT_NEAR(p.probability, trainer_probs[i][k].item<float>(), 1e-5) << "query " << i;
  }
}

}  // namespace
}  // namespace adaptd::train
