// The real adaptd, killed with SIGKILL while a load of Adapt calls runs,
// restarted on the same store: every adapter acknowledged before the kill
// still predicts the same labels. Once with --adapter_store=directory, once
// with --adapter_store=redis (a real redis-server that outlives adaptd).
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "adaptd/v1/adaptd.grpc.pb.h"
#include "tests/test_util/adaptd_process.h"
#include "tests/test_util/redis_server.h"
#include "tests/test_util/store_engines.h"
#include "tests/test_util/subprocess.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/test_server.h"

namespace adaptd::testing {
namespace {

namespace fs = std::filesystem;

// A support set: 3 classes from `first`, 3 shots, on `backbone`.
struct Variant {
  const char* backbone;
  v1::Method method;
  int first;
};
constexpr Variant kVariants[] = {{"plain", v1::PROTOTYPE, 0},
                                 {"plain", v1::FINETUNE, 2},
                                 {"tiny", v1::META, 4},
                                 {"tiny", v1::PROTOTYPE, 1}};
constexpr int kVariantCount = sizeof(kVariants) / sizeof(kVariants[0]);

struct Acked {
  std::string adapter_id;
  std::string request_id;
  int variant;
};

grpc::Status Adapt(v1::AdaptationService::Stub& stub, int variant, const std::string& request_id,
                   std::string* adapter_id) {
  const Variant& v = kVariants[variant];
  v1::AdaptRequest request = AdaptRequest(v.backbone, 3, 3, v.method, v.first);
  request.set_request_id(request_id);
  v1::AdaptResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status status = stub.Adapt(&ctx, request, &response);
  if (status.ok()) *adapter_id = response.adapter().adapter_id();
  return status;
}

// The labels `adapter_id` predicts for held-out instances of its variant's
// classes.
absl::StatusOr<std::vector<std::string>> PredictLabels(v1::AdaptationService::Stub& stub,
                                                       const std::string& adapter_id,
                                                       int variant) {
  v1::PredictRequest request;
  request.set_adapter_id(adapter_id);
  for (int c = kVariants[variant].first; c < kVariants[variant].first + 3; ++c) {
    for (int i = 10; i < 14; ++i) *request.add_inputs() = TensorInput(c, i);
  }
  v1::PredictResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status status = stub.Predict(&ctx, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  std::vector<std::string> labels;
  for (const auto& p : response.predictions()) labels.push_back(p.label());
  return labels;
}

class SigkillTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("adaptd_sigkill");
    flags_ = {"--host=127.0.0.1",
              "--port=0",
              "--metrics_port=-1",
              absl::StrCat("--model_repository=", StoreTestRepository()),
              "--device=cpu",
              "--intra_op_threads=1",
              "--workers=4",
              "--nvml_library=/nonexistent/libnvidia-ml.so.1",
              absl::StrCat("--adapter_store=", GetParam())};
    if (GetParam() == "directory") {
      flags_.push_back(absl::StrCat("--adapter_dir=", dir_, "/adapters"));
    } else {
      if (!RedisServer::Available()) GTEST_SKIP() << "redis-server is not installed";
      auto redis = RedisServer::Start();
      ASSERT_TRUE(redis.ok()) << redis.status();
      redis_ = *std::move(redis);
      flags_.push_back(absl::StrCat("--redis_address=", redis_->address()));
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_;
  std::vector<std::string> flags_;
  std::unique_ptr<RedisServer> redis_;
};

TEST_P(SigkillTest, EveryAcknowledgedAdapterSurvives) {
  auto first = AdaptdProcess::Start(ADAPTD_BINARY, flags_, dir_ + "/adaptd-1.log");
  if (absl::IsNotFound(first.status())) GTEST_SKIP() << first.status().message();
  ASSERT_TRUE(first.ok()) << first.status();
  v1::AdaptationService::Stub& stub = (*first)->stub();

  // What each variant predicts; two adapters of a variant must agree, or
  // the comparison after the restart would prove nothing.
  std::vector<std::vector<std::string>> expected(kVariantCount);
  std::vector<Acked> acked;
  for (int v = 0; v < kVariantCount; ++v) {
    for (int copy = 0; copy < 2; ++copy) {
      std::string id;
      const std::string request_id = absl::StrCat("warm-", v, "-", copy);
      grpc::Status status = Adapt(stub, v, request_id, &id);
      ASSERT_TRUE(status.ok()) << status.error_message();
      auto labels = PredictLabels(stub, id, v);
      ASSERT_TRUE(labels.ok()) << labels.status();
      if (copy == 0) expected[v] = *labels;
      ASSERT_EQ(*labels, expected[v]) << "variant " << v << " is not deterministic";
      acked.push_back({id, request_id, v});
    }
  }

  // The load: Adapt calls in flight on several threads when the kill lands.
  absl::Mutex mu;
  int load_acked = 0;
  std::atomic<bool> killed{false};
  std::vector<std::thread> threads;
  std::vector<std::string> unexpected;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0;; ++n) {
        const int variant = (t + n) % kVariantCount;
        const std::string request_id = absl::StrCat("load-", t, "-", n);
        std::string id;
        const bool before_kill = !killed.load();
        grpc::Status status = Adapt(stub, variant, request_id, &id);
        absl::MutexLock lock(&mu);
        if (status.ok()) {
          acked.push_back({id, request_id, variant});
          ++load_acked;
        } else if (before_kill && !killed.load()) {
          unexpected.push_back(status.error_message());
        }
        if (killed.load()) return;
      }
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto enough = [](int* n) { return *n >= 30; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(+enough, &load_acked), absl::Seconds(120)));
  }
  killed = true;
  (*first)->Kill();
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(unexpected.empty()) << unexpected.front();
  const std::vector<Acked> survivors = acked;  // Everything acknowledged.
  first->reset();

  auto second = AdaptdProcess::Start(ADAPTD_BINARY, flags_, dir_ + "/adaptd-2.log");
  ASSERT_TRUE(second.ok()) << second.status();
  int checked = 0;
  for (const Acked& a : survivors) {
    auto labels = PredictLabels((*second)->stub(), a.adapter_id, a.variant);
    ASSERT_TRUE(labels.ok()) << a.adapter_id << " (" << a.request_id << "): " << labels.status();
    EXPECT_EQ(*labels, expected[a.variant]) << a.adapter_id;
    ++checked;
  }
  EXPECT_GE(checked, 30 + 2 * kVariantCount);
  // A client retrying after the crash gets the adapter it was acknowledged.
  const Acked& retried = survivors.back();
  std::string id;
  ASSERT_TRUE(Adapt((*second)->stub(), retried.variant, retried.request_id, &id).ok());
  EXPECT_EQ(id, retried.adapter_id);
  if (GetParam() == "directory") {
    for (const auto& entry : fs::directory_iterator(dir_ + "/adapters")) {
      EXPECT_EQ(entry.path().extension(), ".adapter") << entry.path();  // No torn temp files.
    }
  }
}

// SIGTERM drains: calls already received finish and are stored, then adaptd
// exits 0, and a restart finds every adapter it acknowledged.
TEST(SigtermTest, InFlightCallsFinishAndTheProcessExitsZero) {
  const std::string dir = MakeTempDir("adaptd_sigterm");
  const std::vector<std::string> flags = {
      "--host=127.0.0.1", "--port=0", "--metrics_port=-1",
      absl::StrCat("--model_repository=", StoreTestRepository()), "--device=cpu",
      "--intra_op_threads=1", "--workers=1", "--shutdown_grace=60s",
      "--nvml_library=/nonexistent/libnvidia-ml.so.1", "--adapter_store=directory",
      absl::StrCat("--adapter_dir=", dir, "/adapters")};
  auto server = AdaptdProcess::Start(ADAPTD_BINARY, flags, dir + "/adaptd-1.log");
  if (absl::IsNotFound(server.status())) GTEST_SKIP() << server.status().message();
  ASSERT_TRUE(server.ok()) << server.status();
  // One worker, several Adapt calls: once the first is acknowledged, the
  // others are received and waiting or running when SIGTERM lands.
  constexpr int kCalls = 4;
  absl::Mutex mu;
  int acked = 0;
  std::vector<std::string> ids(kCalls), errors;
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      std::string id;
      grpc::Status status = Adapt((*server)->stub(), i % kVariantCount, absl::StrCat("drain-", i), &id);
      absl::MutexLock lock(&mu);
      if (status.ok()) {
        ids[i] = id;
        ++acked;
      } else {
        errors.push_back(status.error_message());
      }
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto first = [](int* n) { return *n >= 1; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(+first, &acked), absl::Seconds(120)));
  }
  (*server)->Terminate();
  for (auto& thread : threads) thread.join();
  auto exit_code = (*server)->Wait(absl::Seconds(90));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(acked, kCalls);
  server->reset();

  auto restarted = AdaptdProcess::Start(ADAPTD_BINARY, flags, dir + "/adaptd-2.log");
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  for (int i = 0; i < kCalls; ++i) {
    if (ids[i].empty()) continue;
    auto labels = PredictLabels((*restarted)->stub(), ids[i], i % kVariantCount);
    EXPECT_TRUE(labels.ok()) << ids[i] << ": " << labels.status();
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, SigkillTest, ::testing::Values("directory", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace adaptd::testing
