// A hung Redis (a real redis-server stopped with SIGSTOP: connections are
// accepted, commands buffered, nothing answered) must not stall adaptd:
//   - RedisPersistence: each call is bounded by its timeout, the breaker then
//     fails fast, a write whose answer never came is taken back even though
//     Redis runs it once it resumes;
//   - a whole in-process adaptd under 16 concurrent Adapts and Predicts:
//     every Adapt ends within its deadline with the documented status,
//     cached Predicts, ListBackbones and health answer, the store's state is
//     logged and exported, everything recovers after SIGCONT, and nothing is
//     stored that a client was told was not.
#include <atomic>
#include <set>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "adaptd/v1/adaptd.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/common/log.h"
#include "server/engine/store/redis_persistence.h"
#include "server/service/server.h"
#include "tests/test_util/redis_server.h"
#include "tests/test_util/store_engines.h"
#include "tests/test_util/subprocess.h"
#include "tests/test_util/test_server.h"

namespace adaptd::testing {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kRedisTimeout = absl::Milliseconds(300);

class FrozenRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::Available()) {
      GTEST_SKIP() << "redis-server is not installed (Debian package redis-server)";
    }
    auto redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
  }
  void TearDown() override {
    if (redis_) redis_->Thaw();  // Whatever an assertion left.
  }

  // The ids of the records under `prefix`, read with redis-cli.
  std::set<std::string> StoredIds(const std::string& prefix) {
    std::set<std::string> ids;
    for (absl::string_view key :
         absl::StrSplit(redis_->Cli(absl::StrCat("--raw KEYS '", prefix, "a:*'")), '\n',
                        absl::SkipEmpty())) {
      ids.insert(std::string(key.substr(prefix.size() + 2)));
    }
    return ids;
  }

  std::unique_ptr<RedisServer> redis_;
};

engine::AdapterInfo Info(const std::string& id, const std::string& request_id = "") {
  engine::AdapterInfo info;
  info.adapter_id = id;
  info.tenant = "t";
  info.request_id = request_id;
  info.size_bytes = 10;
  info.expire_time = absl::Now() + absl::Hours(1);
  return info;
}

TEST_F(FrozenRedisTest, EachCallIsBoundedThenFailsFastAndAnUnansweredWriteIsTakenBack) {
  absl::Mutex mu;
  std::vector<engine::CircuitBreaker::Change> changes;
  engine::RedisPersistence::Options options;
  options.address = redis_->address();
  options.connect_timeout = options.command_timeout = kRedisTimeout;
  options.key_prefix = "p:";
  options.on_health = [&](const engine::CircuitBreaker::Change& change) {
    absl::MutexLock lock(&mu);
    changes.push_back(change);
  };
  auto redis = engine::RedisPersistence::Connect(options);
  ASSERT_TRUE(redis.ok()) << redis.status();
  engine::RedisPersistence& store = **redis;
  ASSERT_TRUE(store.Put(Info("kept"), "bytes", {}).ok());

  redis_->Freeze();
  // A write goes out and its answer never comes: bounded by the timeout, and
  // marked as of unknown outcome (a frozen Redis runs it when it resumes).
  absl::Time start = absl::Now();
  auto put = store.PutBefore(Info("lost"), "bytes", {}, absl::Now() + absl::Seconds(5));
  EXPECT_LT(absl::Now() - start, kRedisTimeout + absl::Milliseconds(200));
  ASSERT_EQ(put.status().code(), absl::StatusCode::kUnavailable) << put.status();
  EXPECT_TRUE(engine::IsWriteOutcomeUnknown(put.status())) << put.status();
  store.Discard(Info("lost"));
  // A lookup on a fresh connection: bounded too. The second failure opens
  // the breaker; from then on calls do not wait.
  start = absl::Now();
  EXPECT_EQ(store.Get("kept").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, kRedisTimeout + absl::Milliseconds(200));
  EXPECT_FALSE(store.healthy());
  auto fast = store.Exists("kept");
  EXPECT_THAT(std::string(fast.status().message()), HasSubstr("failing fast"));
  auto refused = store.PutBefore(Info("refused"), "bytes", {}, absl::InfiniteFuture());
  EXPECT_FALSE(engine::IsWriteOutcomeUnknown(refused.status())) << "it never started";
  {
    absl::MutexLock lock(&mu);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_FALSE(changes[0].healthy);
  }

  redis_->Thaw();
  // The pending discard probes Redis itself: no caller needed to recover.
  ASSERT_TRUE(WaitFor([&] { return store.healthy() && store.pending_discards() == 0; },
                      absl::Seconds(15)));
  EXPECT_EQ(StoredIds("p:"), std::set<std::string>{"kept"});
  EXPECT_EQ(redis_->Cli("--raw EXISTS p:x:lost"), "1\n");  // The tombstone.
  // A put of the discarded id arriving late stores nothing.
  EXPECT_EQ(store.Put(Info("lost"), "bytes", {}).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(StoredIds("p:"), std::set<std::string>{"kept"});
  absl::MutexLock lock(&mu);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_TRUE(changes[1].healthy);
}

// One gRPC call's outcome.
struct Outcome {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;
  absl::Duration elapsed;
  std::string adapter_id;
};

class FrozenRedisServerTest : public FrozenRedisTest {
 protected:
  void SetUp() override {
    FrozenRedisTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    Logger::Options log_options;
    log_options.sink = [this](absl::string_view line) {
      absl::MutexLock lock(&log_mu_);
      log_.append(line.data(), line.size());
    };
    logger_ = std::make_unique<Logger>(log_options);
    service::AdaptdServer::Options options;
    options.listen_address = "127.0.0.1:0";
    options.metrics_address = "";
    options.nvml_library = "/nonexistent/libnvidia-ml.so.1";
    options.workers = 4;
    options.logger = logger_.get();
    options.engine = StoreTestEngineOptions();
    options.engine.persistence.backend = "redis";
    options.engine.persistence.redis_address = redis_->address();
    options.engine.persistence.redis_timeout = kRedisTimeout;
    options.engine.persistence.redis_key_prefix = "s:";
    auto server = service::AdaptdServer::Create(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::AdaptationService::NewStub(channel_);
  }

  Outcome Adapt(int first_class, const std::string& request_id, absl::Duration deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::AdaptRequest request = AdaptRequest("plain", 3, 2, v1::PROTOTYPE, first_class);
    request.set_request_id(request_id);
    v1::AdaptResponse response;
    const absl::Time start = absl::Now();
    grpc::Status status = stub_->Adapt(&ctx, request, &response);
    return {status.error_code(), status.error_message(), absl::Now() - start,
            response.adapter().adapter_id()};
  }

  Outcome Predict(const std::string& adapter_id, absl::Duration deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::PredictRequest request;
    request.set_adapter_id(adapter_id);
    *request.add_inputs() = TensorInput(1, 7);
    v1::PredictResponse response;
    const absl::Time start = absl::Now();
    grpc::Status status = stub_->Predict(&ctx, request, &response);
    return {status.error_code(), status.error_message(), absl::Now() - start, adapter_id};
  }

  Outcome ListBackbones(absl::Duration deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::ListBackbonesResponse response;
    const absl::Time start = absl::Now();
    grpc::Status status = stub_->ListBackbones(&ctx, {}, &response);
    if (status.ok() && response.backbones_size() == 0) status = {grpc::StatusCode::INTERNAL, ""};
    return {status.error_code(), status.error_message(), absl::Now() - start, ""};
  }

  Outcome Health(absl::Duration deadline) {
    auto health = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    grpc::health::v1::HealthCheckResponse response;
    const absl::Time start = absl::Now();
    grpc::Status status = health->Check(&ctx, {}, &response);
    if (status.ok() && response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
      status = {grpc::StatusCode::INTERNAL, "not serving"};
    }
    return {status.error_code(), status.error_message(), absl::Now() - start, ""};
  }

  std::string Log() {
    absl::MutexLock lock(&log_mu_);
    return log_;
  }

  absl::Mutex log_mu_;
  std::string log_ ABSL_GUARDED_BY(log_mu_);
  std::unique_ptr<Logger> logger_;
  std::unique_ptr<service::AdaptdServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AdaptationService::Stub> stub_;
};

TEST_F(FrozenRedisServerTest, AFrozenRedisNeverStallsTheServerAndNothingUnackedIsStored) {
  constexpr absl::Duration kAdaptDeadline = absl::Seconds(3);
  constexpr absl::Duration kQuickDeadline = absl::Seconds(2);
  std::set<std::string> acknowledged;
  std::vector<std::string> cached;
  for (int i = 0; i < 4; ++i) {
    Outcome adapted = Adapt(i, "", absl::Seconds(20));
    ASSERT_EQ(adapted.code, grpc::StatusCode::OK) << adapted.message;
    acknowledged.insert(adapted.adapter_id);
    cached.push_back(adapted.adapter_id);
  }
  EXPECT_THAT(server_->ScrapeText(), HasSubstr("adaptd_adapter_store_healthy 1"));

  redis_->Freeze();
  constexpr int kCalls = 16;
  std::vector<Outcome> adapts(kCalls), predicts(kCalls), others(kCalls);
  std::vector<std::thread> threads;
  auto request_id = [](int i) { return i % 2 == 0 ? absl::StrCat("frozen-", i) : ""; };
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] { adapts[i] = Adapt(i % 5, request_id(i), kAdaptDeadline); });
    threads.emplace_back([&, i] { predicts[i] = Predict(cached[i % 4], kQuickDeadline); });
    threads.emplace_back([&, i] {
      others[i] = i % 2 ? ListBackbones(kQuickDeadline) : Health(kQuickDeadline);
    });
  }
  for (auto& t : threads) t.join();

  std::vector<std::string> unknown;  // Request ids whose outcome the client was told is unknown.
  for (int i = 0; i < kCalls; ++i) {
    const Outcome& a = adapts[i];
    EXPECT_LT(a.elapsed, kAdaptDeadline) << "Adapt " << i << " ran into its deadline";
    EXPECT_EQ(a.code, grpc::StatusCode::UNAVAILABLE) << "Adapt " << i << ": " << a.message;
    const bool not_stored = absl::StrContains(a.message, "nothing is stored");
    const bool outcome_unknown = absl::StrContains(
        a.message, "the outcome is unknown: retry with the same request_id");
    EXPECT_TRUE(not_stored != outcome_unknown) << "Adapt " << i << ": " << a.message;
    if (outcome_unknown) {
      EXPECT_FALSE(request_id(i).empty()) << "only a request_id can find it again";
      unknown.push_back(request_id(i));
    }
    EXPECT_EQ(predicts[i].code, grpc::StatusCode::OK) << "Predict " << i << ": "
                                                      << predicts[i].message;
    EXPECT_EQ(others[i].code, grpc::StatusCode::OK) << (i % 2 ? "ListBackbones " : "Health ")
                                                    << i << ": " << others[i].message;
  }
  EXPECT_THAT(server_->ScrapeText(), HasSubstr("adaptd_adapter_store_healthy 0"));
  EXPECT_FALSE(server_->engine().store_info().healthy);
  EXPECT_THAT(Log(), HasSubstr("adapter store unhealthy"));
  // For the record (--gtest_output=xml): the slowest call of each kind.
  auto slowest = [](const std::vector<Outcome>& outcomes) {
    absl::Duration most;
    for (const Outcome& o : outcomes) most = std::max(most, o.elapsed);
    return absl::StrCat(absl::ToInt64Milliseconds(most));
  };
  RecordProperty("slowest_adapt_ms", slowest(adapts));
  RecordProperty("slowest_predict_ms", slowest(predicts));
  RecordProperty("slowest_list_backbones_or_health_ms", slowest(others));
  RecordProperty("adapts_outcome_unknown", static_cast<int>(unknown.size()));

  redis_->Thaw();
  // Recovers by itself: the store is probed again after its back-off.
  ASSERT_TRUE(WaitFor(
      [&] {
        return Adapt(0, "after-thaw", absl::Seconds(5)).code == grpc::StatusCode::OK &&
               absl::StrContains(server_->ScrapeText(), "adaptd_adapter_store_healthy 1");
      },
      absl::Seconds(20)));
  EXPECT_THAT(Log(), HasSubstr("adapter store healthy again"));
  EXPECT_TRUE(server_->engine().store_info().healthy);
  acknowledged.insert(Adapt(0, "after-thaw", absl::Seconds(5)).adapter_id);
  // Every Adapt told "outcome unknown" gets its one adapter with a retry;
  // the others' request ids make new ones only when retried.
  for (const std::string& id : unknown) {
    Outcome retry = Adapt(0, id, absl::Seconds(5));
    ASSERT_EQ(retry.code, grpc::StatusCode::OK) << retry.message;
    EXPECT_EQ(Adapt(0, id, absl::Seconds(5)).adapter_id, retry.adapter_id);
    acknowledged.insert(retry.adapter_id);
  }
  // Nothing else is stored: the Adapts told "nothing is stored" that Redis
  // ran on resuming are taken back.
  EXPECT_TRUE(WaitFor([&] { return StoredIds("s:") == acknowledged; }, absl::Seconds(15)))
      << "stored " << StoredIds("s:").size() << ", acknowledged " << acknowledged.size();
  RecordProperty("tombstones", std::string(absl::StripAsciiWhitespace(redis_->Cli(
                                   "--raw EVAL \"return #redis.call('KEYS', 's:x:*')\" 0"))));
  for (const std::string& id : acknowledged) {
    Outcome predicted = Predict(id, kQuickDeadline);
    EXPECT_EQ(predicted.code, grpc::StatusCode::OK) << id << ": " << predicted.message;
  }
}

}  // namespace
}  // namespace adaptd::testing
