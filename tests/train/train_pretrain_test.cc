#include "train/pretrain.h"

#include <signal.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <torch/cuda.h>
#include <torch/serialize.h>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "server/engine/model/backbone.h"
#include "server/engine/model/nets.h"
#include "tests/train/test_data.h"
#include "train/export.h"

namespace adaptd::train {
namespace {
namespace fs = std::filesystem;
using testing::MakeSyntheticDataset;
using testing::TempDir;

PretrainOptions TinyOptions(const std::string& work_dir) {
  PretrainOptions o;
  o.work_dir = work_dir;
  o.epochs = 6;
  o.batch_size = 16;
  o.lr = 3e-3;
  o.dropout = 0.1;
  o.threads = 1;  // Bitwise reproducible runs.
  o.eval_episodes = 0;
  o.progress = false;
  return o;
}

// Raw features of `net` loaded from `weights` on fixed inputs.
at::Tensor Features(const std::string& weights, const at::Tensor& x) {
  auto net = *engine::MakeFeatureNet("conv4", {1, kImageSide, kImageSide});
  torch::load(net, weights);
  net->eval();
  torch::NoGradGuard no_grad;
  return net->forward(x);
}

TEST(PretrainTest, TinyRunLowersTheLossAndWritesWeights) {
  TempDir dir;
  const Dataset train = MakeSyntheticDataset(2, 4, 16);  // 8 classes, 128 images.
  auto report = Pretrain(train, Dataset(), TinyOptions(dir.path()));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->epochs_done, 6);
  EXPECT_EQ(report->steps_done, 6 * 8);
  ASSERT_EQ(report->epoch_loss.size(), 6u);
  EXPECT_LT(report->epoch_loss.back(), 0.7 * report->epoch_loss.front())
      << "first " << report->epoch_loss.front() << " last " << report->epoch_loss.back();
  EXPECT_GT(report->epoch_accuracy.back(), report->epoch_accuracy.front());
  EXPECT_GT(report->images_per_second, 0);
  EXPECT_TRUE(fs::exists(report->weights_path));
  EXPECT_TRUE(fs::exists(dir / "checkpoint.pt"));
  EXPECT_TRUE(fs::exists(dir / "report.json"));
}

TEST(PretrainTest, ResumingAfterAnInterruptGivesTheSameWeights) {
  TempDir straight, interrupted;
  const Dataset train = MakeSyntheticDataset(2, 3, 12);  // 72 images: 4 steps per epoch.
  PretrainOptions a = TinyOptions(straight.path());
  a.epochs = 3;
  ASSERT_TRUE(Pretrain(train, Dataset(), a).ok());

  PretrainOptions b = TinyOptions(interrupted.path());
  b.epochs = 3;
  b.max_steps = 6;  // Stops mid-epoch 2.
  auto first = Pretrain(train, Dataset(), b);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->steps_done, 6);
  b.max_steps = 0;
  b.resume = true;
  auto second = Pretrain(train, Dataset(), b);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->steps_done, 12);
  EXPECT_EQ(second->epochs_done, 3);
  EXPECT_EQ(second->step_loss.size(), 6u);  // Only the resumed run's steps.

  const at::Tensor x = torch::randn({5, 1, kImageSide, kImageSide});
  EXPECT_TRUE(torch::equal(Features(straight / "backbone.pt", x), Features(interrupted / "backbone.pt", x)));

  // A checkpoint from another run is refused, not silently mixed in.
  PretrainOptions other = b;
  other.seed = 2;
  EXPECT_EQ(Pretrain(train, Dataset(), other).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PretrainTest, AnInterruptSavesACheckpointToResumeFrom) {
  TempDir straight, interrupted;
  const Dataset train = MakeSyntheticDataset(2, 3, 12);
  PretrainOptions a = TinyOptions(straight.path());
  a.epochs = 2;
  ASSERT_TRUE(Pretrain(train, Dataset(), a).ok());

  PretrainOptions b = TinyOptions(interrupted.path());
  b.epochs = 2;
  b.checkpoint_seconds = 0;
  b.on_step = [](int64_t steps) {
    if (steps == 3) raise(SIGINT);  // As Ctrl-C would, mid-epoch.
  };
  auto stopped = Pretrain(train, Dataset(), b);
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kCancelled) << stopped.status();
  EXPECT_NE(stopped.status().message().find("--resume"), std::string::npos);
  b.on_step = nullptr;
  b.resume = true;
  auto resumed = Pretrain(train, Dataset(), b);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->step_loss.size(), 5u);  // Steps 4..8.
  const at::Tensor x = torch::randn({3, 1, kImageSide, kImageSide});
  EXPECT_TRUE(torch::equal(Features(straight / "backbone.pt", x), Features(interrupted / "backbone.pt", x)));
}

TEST(PretrainTest, RejectsBadOptions) {
  TempDir dir;
  const Dataset train = MakeSyntheticDataset(1, 2, 4);
  PretrainOptions o = TinyOptions(dir.path());
  o.batch_size = 64;  // More than the 8 images.
  EXPECT_EQ(Pretrain(train, Dataset(), o).status().code(), absl::StatusCode::kInvalidArgument);
  o = TinyOptions("");
  EXPECT_EQ(Pretrain(train, Dataset(), o).status().code(), absl::StatusCode::kInvalidArgument);
  o = TinyOptions(dir.path());
  o.arch = "vgg";
  o.batch_size = 4;
  EXPECT_EQ(Pretrain(train, Dataset(), o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PretrainTest, RefusesADeviceItCannotUseBeforeAnyWork) {
  TempDir dir;
  const Dataset train = MakeSyntheticDataset(1, 4, 8);
  PretrainOptions o = TinyOptions(dir / "work");
  std::vector<std::pair<std::string, absl::StatusCode>> refused = {
      {"tpu", absl::StatusCode::kInvalidArgument},
      {"", absl::StatusCode::kInvalidArgument},
      {"cuda:x", absl::StatusCode::kInvalidArgument},
      {"cpu:1", absl::StatusCode::kInvalidArgument}};
  if (!torch::cuda::is_available()) {
    for (const char* cuda : {"cuda", "cuda:0", "cuda:1"}) {
      refused.emplace_back(cuda, absl::StatusCode::kFailedPrecondition);
    }
  }
  for (const auto& [device, code] : refused) {
    o.device = device;
    const absl::Status status = Pretrain(train, Dataset(), o).status();
    EXPECT_EQ(status.code(), code) << device << ": " << status;
    EXPECT_TRUE(absl::StrContains(status.message(), "--device")) << status;
  }
  EXPECT_FALSE(fs::exists(dir / "work"));  // Nothing written.
  ProtoEvalOptions pe;
  pe.device = "tpu";
  EXPECT_EQ(EvaluatePrototype(dir / "model", train, pe).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A run on a GPU trains what the CPU trains (the first step's loss, from the
// same weights and batch, agrees), checkpoints there and resumes on the CPU,
// and the other way round; the weights it writes load without CUDA.
TEST(PretrainTest, CheckpointsMoveBetweenTheCpuAndAGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "this LibTorch has no CUDA device";
  TempDir dir;
  const Dataset train = MakeSyntheticDataset(2, 3, 12);  // 4 steps per epoch.
  std::map<std::string, float> first_loss;
  for (const auto& [first, then] : {std::pair<std::string, std::string>{"cuda", "cpu"},
                                    std::pair<std::string, std::string>{"cpu", "cuda:0"}}) {
    PretrainOptions o = TinyOptions(dir / first);
    o.epochs = 2;
    o.dropout = 0;  // The CPU and the GPU draw different dropout masks.
    o.max_steps = 3;
    o.device = first;
    auto started = Pretrain(train, Dataset(), o);
    ASSERT_TRUE(started.ok()) << first << ": " << started.status();
    first_loss[first] = started->step_loss.at(0);
    o.max_steps = 0;
    o.resume = true;
    o.device = then;
    auto resumed = Pretrain(train, Dataset(), o);
    ASSERT_TRUE(resumed.ok()) << then << ": " << resumed.status();
    EXPECT_EQ(resumed->steps_done, 8);
    EXPECT_EQ(resumed->step_loss.size(), 5u);
    for (float loss : resumed->step_loss) EXPECT_TRUE(std::isfinite(loss));
    ExportOptions eo;
    eo.weights = resumed->weights_path;
    eo.out_dir = dir / (first + "-model");
    eo.name = "tiny";
    ASSERT_TRUE(ExportPretrained(eo).ok());  // Loads back on the CPU.
  }
  // TF32 convolutions on the GPU round to about 1e-3.
  EXPECT_NEAR(first_loss["cuda"], first_loss["cpu"], 0.02);
}

TEST(ExportTest, ExportedFolderLoadsInAdaptdWithIdenticalFeatures) {
  TempDir dir;
  const Dataset train = MakeSyntheticDataset(2, 4, 10);
  PretrainOptions po = TinyOptions(dir / "work");
  po.epochs = 1;
  auto report = Pretrain(train, Dataset(), po);
  ASSERT_TRUE(report.ok()) << report.status();

  ExportOptions eo;
  eo.weights = report->weights_path;
  eo.out_dir = dir / "models/glyphs-test";
  eo.name = "glyphs-test";
  ASSERT_TRUE(ExportPretrained(eo).ok());

  auto loaded = engine::Backbone::Load(eo.out_dir, c10::Device(c10::kCPU));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const auto& info = (*loaded)->info();
  EXPECT_EQ(info.name, "glyphs-test");
  EXPECT_EQ(info.modality, "image");
  EXPECT_EQ(info.input_shape, (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(info.feature_dim, 64);
  EXPECT_EQ(info.preprocessing.mean, std::vector<float>{0.5f});
  EXPECT_EQ(info.preprocessing.std, std::vector<float>{0.5f});
  EXPECT_EQ((*loaded)->config().format(), "conv4");

  // The same network in memory, as adapt-train holds it.
  auto net = *engine::MakeFeatureNet("conv4", {1, kImageSide, kImageSide});
  torch::load(net, report->weights_path);
  auto in_memory = engine::Backbone::FromNet(MakeModelConfig("mem", "conv4", 64), net,
                                             engine::MetaLearner(nullptr), c10::Device(c10::kCPU));
  ASSERT_TRUE(in_memory.ok()) << in_memory.status();
  const at::Tensor x = torch::randn({7, 1, kImageSide, kImageSide});
  auto a = (*loaded)->Features(x);
  auto b = (*in_memory)->Features(x);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(torch::equal(*a, *b));

  // The PROTOTYPE evaluation runs on the exported folder, above chance.
  ProtoEvalOptions pe;
  pe.settings = {{4, 1}};
  pe.episodes = 20;
  pe.queries = 5;
  pe.threads = 1;
  auto results = EvaluatePrototype(eo.out_dir, train, pe);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 1u);
  EXPECT_EQ((*results)[0].episodes, 20);
  EXPECT_GT((*results)[0].accuracy, 0.4);

  eo.weights = dir / "missing.pt";
  EXPECT_EQ(ExportPretrained(eo).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace adaptd::train
