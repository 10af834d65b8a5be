#include "server/engine/engine.h"

#include <atomic>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include <torch/torch.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "server/engine/adapt/adaptation.h"
#include "server/engine/adapt/adapter_head.h"
#include "server/engine/runtime/torch_util.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "tests/test_util/requests.h"
#include "tests/test_util/tiny_models.h"

namespace adaptd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repo_ = new std::string(testing::MakeTempDir("engine_test_repo"));
    testing::WriteTinyConv4Model(*repo_ + "/tiny", "tiny", /*with_meta=*/true);
    testing::WriteTinyConv4Model(*repo_ + "/plain", "plain", /*with_meta=*/false);
    testing::WriteTinyTorchScriptModel(*repo_ + "/ts", "ts");
    fs::create_directories(*repo_ + "/broken");
    std::ofstream(*repo_ + "/broken/model.pbtxt") << "this is { not a config";
    testing::WriteTinyConv4Model(*repo_ + "/noweights", "noweights", false);
    fs::remove(*repo_ + "/noweights/backbone.pt");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*repo_);
    delete repo_;
  }

  void SetUp() override {
    Engine::Options options;
    options.model_repository = *repo_;
    options.device = "cpu";
    options.max_support_size = 60;
    options.max_classes = 10;
    options.max_predict_inputs = 20;
    options.store.clock = &clock_;
    options.on_model_error = [this](const std::string& folder, const absl::Status& status) {
      model_errors_.push_back(absl::StrCat(fs::path(folder).filename().string(), ": ",
                                           status.message()));
    };
    auto engine = Engine::Create(options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
  }

  AdapterPtr MustAdapt(const Engine::AdaptRequest& request) {
    auto adapter = engine_->Adapt(request, ctx_);
    EXPECT_TRUE(adapter.ok()) << adapter.status();
    return adapter.ok() ? *adapter : nullptr;
  }

  // Accuracy of `adapter` over held-out instances 10..14 of its classes.
  double HeldOutAccuracy(const AdapterPtr& adapter, int ways, int first = 0) {
    Engine::PredictRequest request;
    request.adapter_id = adapter->info.adapter_id;
    std::vector<std::string> expected;
    for (int c = first; c < first + ways; ++c) {
      for (int i = 10; i < 14; ++i) {
        request.inputs.push_back(builder_.Tensor(c, i));
        expected.push_back(absl::StrCat("c", c));
      }
    }
    auto result = engine_->Predict(request, ctx_);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return 0;
    int correct = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      correct += result->predictions[i].label == expected[i];
    }
    return static_cast<double>(correct) / expected.size();
  }

  static std::string* repo_;
  FakeClock clock_;
  std::vector<std::string> model_errors_;
  std::unique_ptr<Engine> engine_;
  CallContext ctx_;
  testing::RequestBuilder builder_;
};

std::string* EngineTest::repo_ = nullptr;

TEST_F(EngineTest, LoadsGoodModelsAndSkipsBadOnes) {
  std::vector<std::string> names;
  for (const auto& info : engine_->ListBackbones()) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("plain", "tiny", "ts"));
  ASSERT_EQ(model_errors_.size(), 2u);
  EXPECT_THAT(model_errors_[0], HasSubstr("broken: "));
  EXPECT_THAT(model_errors_[0], HasSubstr("not a valid ModelConfig"));
  EXPECT_THAT(model_errors_[1], HasSubstr("noweights: backbone_file:"));
  for (const auto& info : engine_->ListBackbones()) {
    EXPECT_EQ(info.device, "cpu");
    EXPECT_GT(info.parameters, 0);
    EXPECT_EQ(info.default_method, info.name == "tiny" ? Method::kMeta : Method::kPrototype);
  }
}

TEST_F(EngineTest, PrototypeAdaptsAndPredictsHeldOutExamples) {
  AdapterPtr adapter = MustAdapt(builder_.Adapt("plain", 5, 5, Method::kPrototype));
  ASSERT_NE(adapter, nullptr);
  EXPECT_EQ(adapter->info.method, Method::kPrototype);
  EXPECT_EQ(adapter->info.stats.steps, 0);
  EXPECT_THAT(adapter->info.labels, ElementsAre("c0", "c1", "c2", "c3", "c4"));
  EXPECT_EQ(adapter->info.support_size, 25);
  EXPECT_GT(adapter->info.size_bytes, 5 * 64 * 4);
  EXPECT_GT(adapter->info.stats.backbone_seconds, 0);
  EXPECT_GE(adapter->info.stats.adapt_seconds, adapter->info.stats.backbone_seconds);
  EXPECT_EQ(adapter->info.stats.device, "cpu");
  EXPECT_EQ(adapter->info.expire_time - adapter->info.create_time, absl::Hours(24));
  EXPECT_GE(HeldOutAccuracy(adapter, 5), 0.8);
}

TEST_F(EngineTest, FinetuneTakesStepsAndLowersSupportLoss) {
  auto request = builder_.Adapt("plain", 5, 3, Method::kFinetune);
  request.steps = 20;
  AdapterPtr adapter = MustAdapt(request);
  ASSERT_NE(adapter, nullptr);
  EXPECT_EQ(adapter->info.method, Method::kFinetune);
  EXPECT_EQ(adapter->info.stats.steps, 20);
  EXPECT_LT(adapter->info.stats.support_loss_after, adapter->info.stats.support_loss_before);
  EXPECT_GE(HeldOutAccuracy(adapter, 5), 0.8);
}

TEST_F(EngineTest, UntrainedMetaLearnerAdaptsAsPrototype) {
  // The meta-learner's contract: before meta-training its generated head is
  // the prototype head and its refinement rates are 0, so META and
  // PROTOTYPE agree on the same support set.
  AdapterPtr meta = MustAdapt(builder_.Adapt("tiny", 4, 3, Method::kMeta));
  AdapterPtr prototype = MustAdapt(builder_.Adapt("tiny", 4, 3, Method::kPrototype));
  ASSERT_NE(meta, nullptr);
  ASSERT_NE(prototype, nullptr);
  EXPECT_EQ(meta->info.method, Method::kMeta);
  // Its learned refinement steps, fewer than the 5 asked.
  EXPECT_EQ(meta->info.stats.steps, MetaLearnerOptions().refine_steps);
  EXPECT_NEAR(meta->info.stats.support_loss_after, prototype->info.stats.support_loss_after, 1e-5);
  EXPECT_NEAR(meta->info.stats.support_loss_before, prototype->info.stats.support_loss_before, 1e-6);
}

TEST_F(EngineTest, UnspecifiedMethodIsMetaOnlyWithAMetaLearner) {
  AdapterPtr with_meta = MustAdapt(builder_.Adapt("tiny", 2, 2, Method::kUnspecified));
  AdapterPtr without = MustAdapt(builder_.Adapt("plain", 2, 2, Method::kUnspecified));
  ASSERT_NE(with_meta, nullptr);
  ASSERT_NE(without, nullptr);
  EXPECT_EQ(with_meta->info.method, Method::kMeta);
  EXPECT_EQ(without->info.method, Method::kPrototype);
}

TEST_F(EngineTest, MetaWithoutMetaLearnerIsFailedPrecondition) {
  auto status = engine_->Adapt(builder_.Adapt("plain", 2, 2, Method::kMeta), ctx_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("has no meta-learner"));
}

TEST_F(EngineTest, TorchScriptBackboneAdaptsFromPngs) {
  Engine::AdaptRequest request;
  request.backbone = "ts";
  request.method = Method::kPrototype;
  for (int c = 0; c < 3; ++c) {
    for (int s = 0; s < 3; ++s) request.support.push_back({absl::StrCat("c", c), builder_.Png(c, s)});
  }
  AdapterPtr adapter = MustAdapt(request);
  ASSERT_NE(adapter, nullptr);
  EXPECT_GE(HeldOutAccuracy(adapter, 3), 0.8);
}

TEST_F(EngineTest, PredictReturnsTopKSortedProbabilities) {
  AdapterPtr adapter = MustAdapt(builder_.Adapt("plain", 5, 2, Method::kPrototype));
  ASSERT_NE(adapter, nullptr);
  Engine::PredictRequest request;
  request.adapter_id = adapter->info.adapter_id;
  request.inputs = {builder_.Tensor(2, 20), builder_.Png(4, 21)};
  request.top_k = 3;
  auto result = engine_->Predict(request, ctx_);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->predictions.size(), 2u);
  for (const auto& p : result->predictions) {
    ASSERT_EQ(p.scores.size(), 3u);
    EXPECT_EQ(p.label, p.scores[0].label);
    EXPECT_GE(p.scores[0].probability, p.scores[1].probability);
    EXPECT_GE(p.scores[1].probability, p.scores[2].probability);
    EXPECT_LE(p.scores[0].probability + p.scores[1].probability + p.scores[2].probability, 1.0001);
  }
  EXPECT_EQ(result->predictions[0].label, "c2");
  EXPECT_EQ(result->predictions[1].label, "c4");
  request.top_k = 0;
  result = engine_->Predict(request, ctx_);
  ASSERT_TRUE(result.ok());
  float total = 0;
  for (const auto& s : result->predictions[0].scores) total += s.probability;
  EXPECT_EQ(result->predictions[0].scores.size(), 5u);
  EXPECT_NEAR(total, 1.0, 1e-4);
}

TEST_F(EngineTest, SameRequestIdReturnsTheSameAdapter) {
  auto request = builder_.Adapt("plain", 2, 2, Method::kPrototype);
  request.request_id = "retry-me";
  AdapterPtr first = MustAdapt(request);
  AdapterPtr second = MustAdapt(request);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(first->info.adapter_id, second->info.adapter_id);
  EXPECT_EQ(engine_->store_info().adapters, 1);
  CallContext other_tenant;
  other_tenant.tenant = "other";
  auto third = engine_->Adapt(request, other_tenant);
  ASSERT_TRUE(third.ok());
  EXPECT_NE((*third)->info.adapter_id, first->info.adapter_id);
}

TEST_F(EngineTest, AdaptAsyncFinishesOnTheScheduledThreadLikeAdapt) {
  // A one-thread "work queue" that records what it was given.
  std::vector<std::function<void()>> scheduled;
  absl::Mutex mu;
  auto schedule = [&](std::function<void()> work) {
    absl::MutexLock lock(&mu);
    scheduled.push_back(std::move(work));
    return true;
  };
  absl::StatusOr<AdapterPtr> result = absl::UnknownError("not done");
  bool done = false;
  const auto request = builder_.Adapt("tiny", 5, 3, Method::kMeta);
  engine_->AdaptAsync(request, ctx_, schedule, [&](absl::StatusOr<AdapterPtr> r) {
    result = std::move(r);
    done = true;
  });
  // The head's adaptation waits for the schedule: nothing stored yet.
  {
    absl::MutexLock lock(&mu);
    auto some = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !scheduled.empty(); };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&some), absl::Seconds(30)));
  }
  EXPECT_FALSE(done);
  EXPECT_EQ(engine_->store_info().adapters, 0);
  scheduled[0]();
  ASSERT_TRUE(done);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)->info.method, Method::kMeta);
  // META refines for at most its meta-learner's learned steps.
  EXPECT_EQ((*result)->info.stats.steps, MetaLearnerOptions().refine_steps);
  EXPECT_GT((*result)->info.stats.backbone_seconds, 0);
  EXPECT_EQ(engine_->store_info().adapters, 1);
  // The same head as the synchronous path computes on the same support set.
  AdapterPtr sync = MustAdapt(request);
  ASSERT_NE(sync, nullptr);
  EXPECT_TRUE(torch::allclose((*result)->head->weight(), sync->head->weight(), 1e-5, 1e-6));
  EXPECT_GE(HeldOutAccuracy(*result, 5), 0.8);
}

TEST_F(EngineTest, AdaptAsyncReportsARefusedScheduleAndEarlyErrors) {
  absl::StatusOr<AdapterPtr> result = absl::UnknownError("not done");
  absl::Notification done;
  engine_->AdaptAsync(
      builder_.Adapt("plain", 3, 2, Method::kPrototype), ctx_,
      [](std::function<void()>) { return false; },
      [&](absl::StatusOr<AdapterPtr> r) {
        result = std::move(r);
        done.Notify();
      });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(engine_->store_info().adapters, 0);

  auto bad = builder_.Adapt("plain", 3, 2, Method::kPrototype);
  bad.support.clear();
  bool called = false;
  engine_->AdaptAsync(
      bad, ctx_, [](std::function<void()>) { return true; },
      [&](absl::StatusOr<AdapterPtr> r) {
        called = true;  // On this thread, before AdaptAsync returns.
        EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
        EXPECT_THAT(std::string(r.status().message()), HasSubstr("support"));
      });
  EXPECT_TRUE(called);
}

TEST_F(EngineTest, BadAdaptRequestsNameTheField) {
  struct Case {
    std::string name;
    std::function<void(Engine::AdaptRequest&)> mutate;
    absl::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases = {
      {"empty support", [](auto& r) { r.support.clear(); }, absl::StatusCode::kInvalidArgument,
       "support: is empty"},
      {"one class", [](auto& r) { r.support.resize(2); }, absl::StatusCode::kInvalidArgument,
       "support: needs at least 2 distinct labels, got 1"},
      {"empty label", [](auto& r) { r.support[3].label = ""; },
       absl::StatusCode::kInvalidArgument, "support[3].label: is empty"},
      {"too many examples",
       [this](auto& r) { r = builder_.Adapt("plain", 2, 31, Method::kPrototype); },
       absl::StatusCode::kInvalidArgument, "support: 62 examples exceeds the limit of 60"},
      {"too many classes",
       [this](auto& r) { r = builder_.Adapt("plain", 11, 1, Method::kPrototype); },
       absl::StatusCode::kInvalidArgument, "support: more than 10 distinct labels"},
      {"unknown backbone", [](auto& r) { r.backbone = "nope"; }, absl::StatusCode::kNotFound,
       "backbone: unknown backbone \"nope\"; loaded: plain, tiny, ts"},
      {"empty backbone", [](auto& r) { r.backbone = ""; }, absl::StatusCode::kInvalidArgument,
       "backbone: is empty"},
      {"negative steps", [](auto& r) { r.steps = -1; }, absl::StatusCode::kInvalidArgument,
       "steps: must be in [0, 500], got -1"},
      {"bad method", [](auto& r) { r.method = static_cast<Method>(42); },
       absl::StatusCode::kInvalidArgument, "method: unknown method 42"},
      {"negative ttl", [](auto& r) { r.ttl = absl::Seconds(-1); },
       absl::StatusCode::kInvalidArgument, "ttl: must be in"},
      {"wrong shape", [](auto& r) { r.support[1].input.shape = {3, 28, 28}; },
       absl::StatusCode::kInvalidArgument,
       "support[1].input.tensor: expected shape [1,28,28], got [3,28,28]"},
      {"missing input", [](auto& r) { r.support[2].input = InputRef{}; },
       absl::StatusCode::kInvalidArgument, "support[2].input: is empty"},
  };
  for (auto& c : cases) {
    auto request = builder_.Adapt("plain", 2, 2, Method::kPrototype);
    c.mutate(request);
    auto status = engine_->Adapt(request, ctx_).status();
    EXPECT_EQ(status.code(), c.code) << c.name << ": " << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message)) << c.name;
  }
  EXPECT_EQ(engine_->store_info().adapters, 0);
}

TEST_F(EngineTest, BadPredictRequestsNameTheField) {
  AdapterPtr adapter = MustAdapt(builder_.Adapt("plain", 2, 2, Method::kPrototype));
  ASSERT_NE(adapter, nullptr);
  Engine::PredictRequest request;
  request.adapter_id = adapter->info.adapter_id;
  auto status = engine_->Predict(request, ctx_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "inputs: is empty");

  request.inputs.assign(21, builder_.Tensor(0, 0));
  EXPECT_THAT(std::string(engine_->Predict(request, ctx_).status().message()),
              HasSubstr("inputs: 21 inputs exceeds the limit of 20"));

  request.inputs = {builder_.Tensor(0, 0), builder_.Tensor(1, 0)};
  request.inputs[1].dtype = DType::kFloat32;
  status = engine_->Predict(request, ctx_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("inputs[1].tensor.data: expected 3136 bytes"));

  request.inputs = {builder_.Tensor(0, 0)};
  request.top_k = -2;
  EXPECT_THAT(std::string(engine_->Predict(request, ctx_).status().message()),
              HasSubstr("top_k: must not be negative"));

  request.top_k = 0;
  request.adapter_id = "ad_unknown";
  status = engine_->Predict(request, ctx_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("adapter_id: adapter \"ad_unknown\" not found"));
}

TEST_F(EngineTest, DeletedAndExpiredAdaptersAreNotFound) {
  auto request = builder_.Adapt("plain", 2, 2, Method::kPrototype);
  request.ttl = absl::Minutes(5);
  AdapterPtr short_lived = MustAdapt(request);
  AdapterPtr deleted = MustAdapt(builder_.Adapt("plain", 2, 2, Method::kPrototype));
  ASSERT_NE(short_lived, nullptr);
  ASSERT_NE(deleted, nullptr);
  EXPECT_EQ(short_lived->info.expire_time - short_lived->info.create_time, absl::Minutes(5));
  ASSERT_TRUE(engine_->DeleteAdapter(deleted->info.adapter_id, ctx_).ok());
  EXPECT_EQ(engine_->GetAdapter(deleted->info.adapter_id, ctx_).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(engine_->GetAdapter(short_lived->info.adapter_id, ctx_).ok());
  clock_.Advance(absl::Minutes(6));
  EXPECT_EQ(engine_->GetAdapter(short_lived->info.adapter_id, ctx_).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, PassedDeadlineStopsAdaptation) {
  CallContext late;
  late.deadline = absl::Now() - absl::Seconds(1);
  auto status = engine_->Adapt(builder_.Adapt("plain", 2, 2, Method::kFinetune), late).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(engine_->store_info().adapters, 0);
}

#ifdef ADAPTD_EXPECT_BLIS
// The build linked BLIS (CMakeLists.txt); LibTorch must be calling it.
// model.pbtxt's default_method decides what an Adapt naming no method gets,
// and ListBackbones says why; "meta" without a meta-learner, or an unknown
// name, keeps the folder from loading.
TEST(DefaultMethodTest, ModelConfigChoosesTheDefaultAndSaysWhy) {
  const std::string repo = testing::MakeTempDir("default_method_repo");
  auto write = [&](const std::string& name, const std::string& lines) {
    testing::WriteTinyConv4Model(repo + "/" + name, name, /*with_meta=*/false);
    std::ofstream(repo + "/" + name + "/model.pbtxt", std::ios::app) << lines;
  };
  write("tuned",
        "default_method: \"finetune\"\ndefault_method_reason: \"meta-val 70% > 69%\"\n");
  write("nometa", "default_method: \"meta\"\n");
  write("typo", "default_method: \"protoype\"\n");
  Engine::Options options;
  options.model_repository = repo;
  options.device = "cpu";
  std::vector<std::string> errors;
  options.on_model_error = [&](const std::string& folder, const absl::Status& status) {
    errors.push_back(absl::StrCat(fs::path(folder).filename().string(), ": ", status.message()));
  };
  auto engine = Engine::Create(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  ASSERT_EQ((*engine)->ListBackbones().size(), 1u);
  const BackboneInfo info = (*engine)->ListBackbones()[0];
  EXPECT_EQ(info.default_method, Method::kFinetune);
  EXPECT_EQ(info.default_method_reason, "meta-val 70% > 69%");
  std::sort(errors.begin(), errors.end());
  EXPECT_THAT(errors,
              ElementsAre(HasSubstr("nometa: default_method: \"meta\" needs a meta_learner_file"),
                          HasSubstr("typo: default_method: \"protoype\" is not prototype, "
                                    "finetune or meta")));
  testing::RequestBuilder builder;
  CallContext ctx;
  auto adapter = (*engine)->Adapt(builder.Adapt("tuned", 3, 2, Method::kUnspecified), ctx);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  EXPECT_EQ((*adapter)->info.method, Method::kFinetune);
  fs::remove_all(repo);
}

TEST(LinkedBlasTest, LibTorchRunsOnBlis) {
  EXPECT_THAT(LinkedBlas(), HasSubstr("/blis-serial/libblas.so.3"));
}
#endif

// Batcher, adaptation and Predict threads all call BLAS at once. OpenBLAS's
// serial build got up to 8 of 20,000 such matmuls wrong here (0 in some
// runs: a race, so this catches it only some of the time); the BLAS linked
// must get none wrong.
TEST(LinkedBlasTest, MatmulsFromManyThreadsAtOnceAreRight) {
  constexpr int kThreads = 4, kRounds = 2500;
  std::vector<torch::Tensor> a, b, expected;
  for (int t = 0; t < kThreads; ++t) {
    a.push_back(torch::randn({96 + 16 * t, 128}));
    b.push_back(torch::randn({128, 96}));
    expected.push_back(torch::mm(a[t], b[t]));
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      c10::InferenceMode inference;
      for (int r = 0; r < kRounds; ++r) {
        if (!torch::allclose(torch::mm(a[t], b[t]), expected[t], 1e-4, 1e-4)) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0) << "of " << kThreads * kRounds << " on " << LinkedBlas();
}

}  // namespace
}  // namespace adaptd::engine
