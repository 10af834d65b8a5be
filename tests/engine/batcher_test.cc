#include "server/engine/batching/batcher.h"

#include <atomic>

#include <torch/torch.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"
#include "server/engine/adapt/adaptation.h"
#include "server/engine/adapt/adapter_head.h"
#include "server/engine/model/backbone.h"
#include "server/engine/runtime/device_scope.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/test_server.h"

namespace adaptd::engine {
namespace {

using ::testing::ElementsAre;

// Collects every Done result, in completion order.
class Results {
 public:
  Batcher::Done Callback(int id) {
    return [this, id](absl::StatusOr<BatchOutput> out) {
      absl::MutexLock lock(&mu_);
      done_.emplace_back(id, std::move(out));
    };
  }
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return done_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }
  std::vector<std::pair<int, absl::StatusOr<BatchOutput>>> Take() {
    absl::MutexLock lock(&mu_);
    return std::move(done_);
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<int, absl::StatusOr<BatchOutput>>> done_ ABSL_GUARDED_BY(mu_);
};

class BatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backbone = Backbone::Load(testing::TinyRepository() + "/plain", c10::Device(c10::kCPU));
    ASSERT_TRUE(backbone.ok()) << backbone.status();
    backbone_ = *backbone;
  }

  static at::Tensor Inputs(int cls, int n) {
    std::vector<at::Tensor> rows;
    for (int i = 0; i < n; ++i) {
      auto values = testing::SyntheticInput(cls, i);
      rows.push_back(torch::from_blob(values.data(), {1, 1, 28, 28}).clone());
    }
    return torch::cat(rows);
  }

  static std::shared_ptr<const AdapterHead> RandomHead(int classes, int seed) {
    torch::manual_seed(seed);
    return std::make_shared<AdapterHead>(NormalizeFeatures(torch::randn({classes, 64})),
                                         torch::randn({classes}) * 0.1);
  }

  // The answer without any batching: one forward, one head.
  at::Tensor Unbatched(const at::Tensor& inputs, const AdapterHead* head) {
    auto features = backbone_->Features(inputs);
    EXPECT_TRUE(features.ok());
    if (head == nullptr) return *features;
    return torch::softmax(HeadLogits(*features, head->weight(), head->bias()), 1);
  }

  std::shared_ptr<Backbone> backbone_;
};

TEST_F(BatcherTest, DifferentAdaptersInOneBatchGetTheirOwnAnswers) {
  std::vector<int> batch_sizes;
  BatchingOptions options;
  options.max_batch_size = 2 + 3 + 1 + 4;  // Exactly the jobs below: one batch.
  options.max_delay = absl::Seconds(60);
  options.on_batch = [&](const std::string&, int size) { batch_sizes.push_back(size); };
  struct Case {
    at::Tensor inputs;
    std::shared_ptr<const AdapterHead> head;  // Null: features.
  };
  std::vector<Case> cases = {{Inputs(0, 2), RandomHead(2, 1)},
                             {Inputs(1, 3), RandomHead(5, 2)},
                             {Inputs(2, 1), nullptr},
                             {Inputs(3, 4), RandomHead(3, 3)}};
  Results results;
  {
    Batcher batcher(backbone_, options);
    for (size_t i = 0; i < cases.size(); ++i) {
      ASSERT_TRUE(batcher.Submit(cases[i].inputs, cases[i].head, nullptr,
                                 results.Callback(static_cast<int>(i)))
                      .ok());
    }
    ASSERT_TRUE(results.WaitFor(cases.size()));
  }
  EXPECT_THAT(batch_sizes, ElementsAre(10));
  for (auto& [id, out] : results.Take()) {
    ASSERT_TRUE(out.ok()) << out.status();
    const auto& c = cases[id];
    at::Tensor expected = Unbatched(c.inputs, c.head.get());
    ASSERT_EQ(out->values.sizes(), expected.sizes()) << "job " << id;
    EXPECT_TRUE(torch::allclose(out->values, expected, 1e-5, 1e-6)) << "job " << id;
    EXPECT_GE(out->compute_seconds, 0);
  }
}

TEST_F(BatcherTest, FullQueueIsResourceExhaustedAndShutdownDrains) {
  BatchingOptions options;
  options.max_batch_size = 1000;
  options.max_delay = absl::Seconds(60);  // Nothing runs until shutdown.
  options.max_queued_inputs = 4;
  Results results;
  {
    Batcher batcher(backbone_, options);
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(batcher.Submit(Inputs(i, 2), RandomHead(2, i), nullptr, results.Callback(i)).ok());
    }
    absl::Status full = batcher.Submit(Inputs(5, 1), RandomHead(2, 5), nullptr, results.Callback(5));
    EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(batcher.queued_inputs(), 4);
  }  // The destructor runs what is queued.
  auto done = results.Take();
  ASSERT_EQ(done.size(), 2u);
  for (auto& [id, out] : done) {
    EXPECT_NE(id, 5);
    EXPECT_TRUE(out.ok()) << out.status();
  }
}

TEST_F(BatcherTest, ExpiredAndCancelledJobsAreDroppedBeforeRunning) {
  std::vector<int> batch_sizes;
  BatchingOptions options;
  options.max_batch_size = 3;
  options.max_delay = absl::Seconds(60);
  options.on_batch = [&](const std::string&, int size) { batch_sizes.push_back(size); };
  CallContext expired;
  expired.deadline = absl::Now() - absl::Seconds(1);
  CallContext cancelled;
  cancelled.cancelled = +[](const void*) { return true; };
  CallContext fine;
  Results results;
  {
    Batcher batcher(backbone_, options);
    ASSERT_TRUE(batcher.Submit(Inputs(0, 1), RandomHead(2, 1), &expired, results.Callback(0)).ok());
    ASSERT_TRUE(batcher.Submit(Inputs(1, 1), RandomHead(2, 1), &cancelled, results.Callback(1)).ok());
    ASSERT_TRUE(batcher.Submit(Inputs(2, 1), RandomHead(2, 1), &fine, results.Callback(2)).ok());
    ASSERT_TRUE(results.WaitFor(3));
  }
  EXPECT_THAT(batch_sizes, ElementsAre(1));  // Only the live job ran.
  for (auto& [id, out] : results.Take()) {
    const absl::StatusCode expected[] = {absl::StatusCode::kDeadlineExceeded,
                                         absl::StatusCode::kCancelled, absl::StatusCode::kOk};
    EXPECT_EQ(out.status().code(), expected[id]) << "job " << id;
  }
}


TEST_F(BatcherTest, SeveralWorkersEachAnswerTheirOwnJobs) {
  BatchingOptions options;
  options.workers = 3;
  options.max_batch_size = 4;
  options.max_delay = absl::Milliseconds(1);
  std::atomic<int> batches{0};
  options.on_batch = [&](const std::string&, int) { ++batches; };
  constexpr int kJobs = 24;
  std::vector<std::shared_ptr<const AdapterHead>> heads;
  for (int i = 0; i < kJobs; ++i) heads.push_back(RandomHead(2 + i % 4, 100 + i));
  Results results;
  {
    Batcher batcher(backbone_, options);
    for (int i = 0; i < kJobs; ++i) {
      ASSERT_TRUE(batcher.Submit(Inputs(i % 7, 1 + i % 3), heads[i], nullptr, results.Callback(i))
                      .ok());
    }
    ASSERT_TRUE(results.WaitFor(kJobs));
  }
  EXPECT_GT(batches.load(), 1);
  auto done = results.Take();
  ASSERT_EQ(done.size(), static_cast<size_t>(kJobs));
  for (auto& [id, out] : done) {
    ASSERT_TRUE(out.ok()) << out.status();
    at::Tensor expected = Unbatched(Inputs(id % 7, 1 + id % 3), heads[id].get());
    ASSERT_EQ(out->values.sizes(), expected.sizes()) << "job " << id;
    EXPECT_TRUE(torch::allclose(out->values, expected, 1e-5, 1e-6)) << "job " << id;
  }
}

TEST_F(BatcherTest, Bf16AutocastStaysCloseToFp32AndReturnsFloat) {
  BatchingOptions options;
  options.autocast = Autocast::kBFloat16;  // LibTorch's CPU autocast takes bf16.
  options.max_delay = absl::Milliseconds(1);
  const at::Tensor inputs = Inputs(4, 6);
  auto head = RandomHead(5, 9);
  Results results;
  {
    Batcher batcher(backbone_, options);
    ASSERT_TRUE(batcher.Submit(inputs, head, nullptr, results.Callback(0)).ok());
    ASSERT_TRUE(results.WaitFor(1));
  }
  auto done = results.Take();
  ASSERT_TRUE(done[0].second.ok()) << done[0].second.status();
  const at::Tensor& got = done[0].second->values;
  const at::Tensor fp32 = Unbatched(inputs, head.get());
  EXPECT_EQ(got.scalar_type(), at::kFloat);
  // bf16 keeps 8 bits of mantissa: close, not equal.
  EXPECT_TRUE(torch::allclose(got, fp32, 0.05, 0.02)) << (got - fp32).abs().max();
  EXPECT_FALSE(torch::equal(got, fp32)) << "autocast changed nothing: was it applied?";
}

TEST_F(BatcherTest, UrgentJobGoesFirstAndFlushesWithoutWaiting) {
  std::vector<int> batch_sizes;
  BatchingOptions options;
  options.workers = 1;
  options.max_batch_size = 4;
  options.max_delay = absl::Seconds(60);  // Only an urgent job or shutdown flushes.
  options.on_batch = [&](const std::string&, int size) { batch_sizes.push_back(size); };
  Results results;
  {
    Batcher batcher(backbone_, options);
    ASSERT_TRUE(batcher.Submit(Inputs(0, 1), RandomHead(2, 1), nullptr, results.Callback(0)).ok());
    ASSERT_TRUE(batcher.Submit(Inputs(1, 1), RandomHead(2, 2), nullptr, results.Callback(1)).ok());
    ASSERT_TRUE(batcher
                    .Submit(Inputs(2, 3), nullptr, nullptr, results.Callback(2), Priority::kUrgent)
                    .ok());
    // The urgent job (3 inputs) runs now, with job 0 riding along to fill
    // the batch of 4; job 1 waits.
    ASSERT_TRUE(results.WaitFor(2));
    std::vector<int> first;
    for (auto& [id, out] : results.Take()) {
      EXPECT_TRUE(out.ok()) << out.status();
      first.push_back(id);
    }
    EXPECT_THAT(first, ::testing::UnorderedElementsAre(0, 2));
    EXPECT_EQ(batcher.queued_inputs(), 1);
  }  // Shutdown drains job 1.
  EXPECT_THAT(batch_sizes, ElementsAre(4, 1));
  auto rest = results.Take();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].first, 1);
}

TEST(AutocastTest, ParsesTheFlagAndNamesItInErrors) {
  EXPECT_EQ(*ParseAutocast(""), Autocast::kOff);
  EXPECT_EQ(*ParseAutocast("off"), Autocast::kOff);
  EXPECT_EQ(*ParseAutocast("fp16"), Autocast::kFloat16);
  EXPECT_EQ(*ParseAutocast("bf16"), Autocast::kBFloat16);
  absl::StatusOr<Autocast> bad = ParseAutocast("fp8");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("autocast"));
}

TEST(DeviceScopeTest, CpuScopeMeasuresThisThreadsWork) {
  DeviceScope scope(c10::Device(c10::kCPU));
  at::Tensor a = torch::randn({256, 256});
  for (int i = 0; i < 20; ++i) a = torch::tanh(a.mm(a) * 1e-3);
  EXPECT_GT(scope.Finish(), 0.0);
}

}  // namespace
}  // namespace adaptd::engine
