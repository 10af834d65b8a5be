// The Redis backend through the engine, against a real redis-server started
// on a free loopback port: replicas share adapters, deletes, TTLs, quotas and
// idempotency keys; Redis going away mid-run or missing at start.
#include <algorithm>
#include <atomic>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/engine/engine.h"
#include "server/engine/store/redis_persistence.h"
#include "tests/test_util/redis_server.h"
#include "tests/test_util/requests.h"
#include "tests/test_util/store_engines.h"

namespace adaptd::engine {
namespace {

using ::testing::HasSubstr;
using testing::PredictProbes;
using testing::SamePredictions;

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::RedisServer::Available()) {
      GTEST_SKIP() << "redis-server is not installed (Debian package redis-server)";
    }
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
  }

  Engine::Options Options() {
    Engine::Options options = testing::StoreTestEngineOptions();
    options.persistence.backend = "redis";
    options.persistence.redis_address = redis_->address();
    options.persistence.redis_timeout = absl::Seconds(2);
    options.persistence.redis_key_prefix = "test:";
    return options;
  }

  // One replica: its own engine and local cache, the shared Redis.
  std::unique_ptr<Engine> Replica(Engine::Options options) {
    auto engine = Engine::Create(options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? *std::move(engine) : nullptr;
  }
  std::unique_ptr<Engine> Replica() { return Replica(Options()); }

  absl::StatusOr<AdapterPtr> Adapt(Engine& engine, const CallContext& ctx,
                                   const std::string& request_id = "",
                                   absl::Duration ttl = absl::ZeroDuration(),
                                   const std::string& backbone = "plain") {
    auto request = builder_.Adapt(backbone, 3, 3, Method::kPrototype);
    request.request_id = request_id;
    request.ttl = ttl;
    return engine.Adapt(request, ctx);
  }

  std::unique_ptr<testing::RedisServer> redis_;
  testing::RequestBuilder builder_;
  CallContext ctx_;
};

TEST_F(RedisStoreTest, AReplicaPredictsIdenticallyForAnotherReplicasAdapter) {
  auto a = Replica();
  auto b = Replica();
  ASSERT_TRUE(a && b);
  for (const char* backbone : {"tiny", "plain"}) {
    auto request = builder_.Adapt(backbone, 3, 3, Method::kUnspecified);
    auto adapter = a->Adapt(request, ctx_);
    ASSERT_TRUE(adapter.ok()) << adapter.status();
    const std::string id = (*adapter)->info.adapter_id;
    auto on_a = PredictProbes(*a, id, ctx_);
    ASSERT_TRUE(on_a.ok()) << on_a.status();
    const int64_t cached_on_b = b->store_info().adapters;
    auto on_b = PredictProbes(*b, id, ctx_);
    ASSERT_TRUE(on_b.ok()) << on_b.status();
    std::string why;
    EXPECT_TRUE(SamePredictions(*on_a, *on_b, &why)) << why;
    EXPECT_EQ(b->store_info().adapters, cached_on_b + 1);  // Read from Redis, then cached.
    auto info = b->GetAdapter(id, ctx_);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ((*info)->info.labels, (*adapter)->info.labels);
    EXPECT_EQ((*info)->info.expire_time, (*adapter)->info.expire_time);
  }
}

TEST_F(RedisStoreTest, ADeleteOnOneReplicaIsNotFoundOnTheOther) {
  auto a = Replica();
  auto b = Replica();
  auto adapter = Adapt(*a, ctx_);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  const std::string id = (*adapter)->info.adapter_id;
  ASSERT_TRUE(PredictProbes(*a, id, ctx_).ok());  // Cached on A.
  ASSERT_TRUE(b->DeleteAdapter(id, ctx_).ok());
  EXPECT_EQ(a->GetAdapter(id, ctx_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(PredictProbes(*a, id, ctx_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a->DeleteAdapter(id, ctx_).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(redis_->Cli("--raw EXISTS test:a:" + id), "0\n");
}

TEST_F(RedisStoreTest, AnotherTenantSeesNotFoundOnEveryReplica) {
  auto a = Replica();
  auto b = Replica();
  CallContext alice, bob;
  alice.tenant = "alice";
  bob.tenant = "bob";
  auto adapter = Adapt(*a, alice);
  ASSERT_TRUE(adapter.ok());
  const std::string id = (*adapter)->info.adapter_id;
  for (Engine* engine : {a.get(), b.get()}) {
    EXPECT_EQ(engine->GetAdapter(id, bob).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(engine->DeleteAdapter(id, bob).code(), absl::StatusCode::kNotFound);
    EXPECT_TRUE(engine->ListAdapters("", 10, "", bob)->adapters.empty());
  }
  EXPECT_TRUE(b->GetAdapter(id, alice).ok());
}

TEST_F(RedisStoreTest, TheKeyTtlIsTheAdaptersExpiry) {
  auto a = Replica();
  auto b = Replica();
  auto adapter = Adapt(*a, ctx_, "", absl::Milliseconds(1500));
  ASSERT_TRUE(adapter.ok());
  const std::string id = (*adapter)->info.adapter_id;
  int64_t pttl = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(redis_->Cli("--raw PTTL test:a:" + id)),
                               &pttl));
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 1500);
  ASSERT_TRUE(b->GetAdapter(id, ctx_).ok());
  // Both the key and the cached copies go at expire_time.
  EXPECT_TRUE(testing::WaitFor(
      [&] { return redis_->Cli("--raw EXISTS test:a:" + id) == "0\n"; }, absl::Seconds(5)));
  EXPECT_EQ(a->GetAdapter(id, ctx_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(b->GetAdapter(id, ctx_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(a->ListAdapters("", 10, "", ctx_)->adapters.empty());
}

TEST_F(RedisStoreTest, RequestIdIsIdempotentAcrossReplicas) {
  auto a = Replica();
  auto b = Replica();
  auto first = Adapt(*a, ctx_, "req-1");
  ASSERT_TRUE(first.ok());
  auto retry = Adapt(*b, ctx_, "req-1");
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ((*retry)->info.adapter_id, (*first)->info.adapter_id);
  // Racing retries on both replicas at once also make one adapter.
  std::vector<std::string> ids(6);
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      testing::RequestBuilder builder;
      auto request = builder.Adapt("plain", 3, 3, Method::kPrototype);
      request.request_id = "req-2";
      auto adapter = (i % 2 ? a : b)->Adapt(request, ctx_);
      if (adapter.ok()) ids[i] = (*adapter)->info.adapter_id;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(a->ListAdapters("", 100, "", ctx_)->adapters.size(), 2u);
}

TEST_F(RedisStoreTest, ListingSeesEveryReplicasAdaptersInIdOrder) {
  auto a = Replica();
  auto b = Replica();
  CallContext other;
  other.tenant = "other";
  std::vector<std::string> created;
  for (int i = 0; i < 5; ++i) created.push_back((*Adapt(*a, ctx_))->info.adapter_id);
  for (int i = 0; i < 3; ++i) {
    created.push_back((*Adapt(*b, ctx_, "", absl::ZeroDuration(), "tiny"))->info.adapter_id);
  }
  ASSERT_TRUE(Adapt(*b, other).ok());
  std::sort(created.begin(), created.end());
  std::vector<std::string> seen;
  std::string token;
  do {
    auto page = a->ListAdapters("", 3, token, ctx_);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->adapters.size(), 3u);
    for (const auto& adapter : page->adapters) seen.push_back(adapter->info.adapter_id);
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(seen, created);
  EXPECT_EQ(b->ListAdapters("tiny", 10, "", ctx_)->adapters.size(), 3u);
  EXPECT_EQ(a->ListAdapters("", 10, "", other)->adapters.size(), 1u);
}

TEST_F(RedisStoreTest, QuotasHoldAcrossReplicas) {
  auto options = Options();
  options.store.max_adapters_per_tenant = 3;
  auto a = Replica(options);
  auto b = Replica(options);
  ASSERT_TRUE(Adapt(*a, ctx_).ok());
  ASSERT_TRUE(Adapt(*a, ctx_).ok());
  auto third = Adapt(*b, ctx_);
  ASSERT_TRUE(third.ok());
  auto over = Adapt(*a, ctx_);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(over.status().message(), "tenant \"default\" is over its quota of 3 adapters");
  ASSERT_TRUE(b->DeleteAdapter((*third)->info.adapter_id, ctx_).ok());
  EXPECT_TRUE(Adapt(*a, ctx_).ok());
  auto bytes_options = Options();
  bytes_options.persistence.redis_key_prefix = "bytes:";
  bytes_options.store.max_bytes_per_tenant = 1;
  auto c = Replica(bytes_options);
  EXPECT_EQ(Adapt(*c, ctx_).status().message(), "tenant \"default\" is over its quota of 1 bytes");
}

TEST_F(RedisStoreTest, RedisGoneMidRunRefusesAdaptAndKeepsServingCachedAdapters) {
  auto a = Replica();
  auto b = Replica();
  auto cached = Adapt(*a, ctx_);
  ASSERT_TRUE(cached.ok());
  const std::string id = (*cached)->info.adapter_id;
  auto before = PredictProbes(*a, id, ctx_);
  ASSERT_TRUE(before.ok());

  redis_->Kill();
  auto adapt = Adapt(*a, ctx_);
  EXPECT_EQ(adapt.status().code(), absl::StatusCode::kUnavailable) << adapt.status();
  EXPECT_THAT(std::string(adapt.status().message()), HasSubstr(redis_->address()));
  EXPECT_EQ(a->store_info().adapters, 1);  // Nothing pretended stored.
  auto after = PredictProbes(*a, id, ctx_);
  ASSERT_TRUE(after.ok()) << after.status();
  std::string why;
  EXPECT_TRUE(SamePredictions(*before, *after, &why)) << why;
  EXPECT_TRUE(a->GetAdapter(id, ctx_).ok());
  // B never cached it: it cannot know, and says so.
  EXPECT_EQ(b->GetAdapter(id, ctx_).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(a->ListAdapters("", 10, "", ctx_).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(a->DeleteAdapter(id, ctx_).code(), absl::StatusCode::kUnavailable);

  // Redis comes back (empty: it kept nothing): the replicas reconnect.
  ASSERT_TRUE(redis_->Restart().ok());
  EXPECT_TRUE(testing::WaitFor([&] { return Adapt(*a, ctx_).ok(); }, absl::Seconds(10)));
  EXPECT_EQ(a->GetAdapter(id, ctx_).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RedisStoreTest, RedisDownAtStartIsAClearError) {
  auto options = Options();
  const int port = testing::PickUnusedPort();
  options.persistence.redis_address = absl::StrCat("127.0.0.1:", port);
  auto engine = Engine::Create(options);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(engine.status().message()),
              HasSubstr(absl::StrCat("cannot use Redis at 127.0.0.1:", port)));
  options.persistence.redis_address = "no-port";
  EXPECT_EQ(Engine::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RedisStoreTest, LocalCacheStaysBounded) {
  auto options = Options();
  options.store.max_adapters = 2;
  auto a = Replica();
  auto b = Replica(options);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back((*Adapt(*a, ctx_))->info.adapter_id);
  for (const auto& id : ids) ASSERT_TRUE(b->GetAdapter(id, ctx_).ok());
  EXPECT_EQ(b->store_info().adapters, 2);
  for (const auto& id : ids) EXPECT_TRUE(b->GetAdapter(id, ctx_).ok()) << id;
}

}  // namespace
}  // namespace adaptd::engine
