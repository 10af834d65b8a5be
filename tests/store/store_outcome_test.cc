// What a failed or late write means, at the store over a fake persistence:
// a write whose outcome is unknown, a deadline passed before or during the
// write, a cancelled call. And GetCached, the Predict path, which never
// waits on persistence. No LibTorch, no I/O.
#include <atomic>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "server/engine/store/adapter_store.h"
#include "tests/test_util/fake_persistence.h"

namespace adaptd::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A fake whose writes can be made to lose their answer (stored or not),
// whose Put can run a hook (to cancel the caller mid-write), and whose
// Exists can be held, as a hung Redis would.
class FlakyPersistence : public testing::FakePersistence {
 public:
  explicit FlakyPersistence(Clock* clock) : FakePersistence(/*shared=*/true, clock) {}

  enum class Answer { kNormal, kLostAfterStoring, kLostBeforeStoring };
  void set_answer(Answer answer) { answer_ = answer; }
  void set_during_put(std::function<void()> hook) { during_put_ = std::move(hook); }
  // Exists blocks until Release().
  void HoldExists() { hold_exists_ = true; }
  void Release() { released_.Notify(); }
  int exists_calls() const { return exists_calls_; }
  std::vector<std::string> discarded() {
    absl::MutexLock lock(&mu_);
    return discarded_;
  }

  absl::StatusOr<std::string> PutBefore(const AdapterInfo& info, absl::string_view bytes,
                                        const Quota& quota, absl::Time) override {
    if (during_put_) during_put_();
    if (answer_ == Answer::kLostBeforeStoring) return WriteOutcomeUnknown("no answer within 1s");
    absl::StatusOr<std::string> stored = Put(info, bytes, quota);
    if (answer_ == Answer::kLostAfterStoring) return WriteOutcomeUnknown("no answer within 1s");
    return stored;
  }
  void Discard(const AdapterInfo& info) override {
    Erase(info.adapter_id);
    absl::MutexLock lock(&mu_);
    discarded_.push_back(info.adapter_id);
  }
  absl::StatusOr<bool> Exists(const std::string& id) override {
    ++exists_calls_;
    if (hold_exists_) released_.WaitForNotification();
    return FakePersistence::Exists(id);
  }

 private:
  std::atomic<Answer> answer_{Answer::kNormal};
  std::function<void()> during_put_;
  std::atomic<bool> hold_exists_{false};
  std::atomic<int> exists_calls_{0};
  absl::Notification released_;
  absl::Mutex mu_;
  std::vector<std::string> discarded_ ABSL_GUARDED_BY(mu_);
};

bool Cancelled(const void* arg) { return static_cast<const std::atomic<bool>*>(arg)->load(); }

class StoreOutcomeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    persistence_ = std::make_shared<FlakyPersistence>(&clock_);
    AdapterStore::Options options;
    options.clock = &clock_;
    options.persistence = persistence_;
    // A record names an adapter kept here, as the engine's codec would hold it.
    options.encode = [this](const Adapter& a) -> absl::StatusOr<std::string> {
      absl::MutexLock lock(&mu_);
      encoded_[a.info.adapter_id] = std::make_shared<Adapter>(a);
      return absl::StrCat("rec:", a.info.adapter_id);
    };
    options.decode = [this](absl::string_view bytes) -> absl::StatusOr<AdapterPtr> {
      absl::MutexLock lock(&mu_);
      if (!absl::ConsumePrefix(&bytes, "rec:")) return absl::DataLossError("not a record");
      auto it = encoded_.find(std::string(bytes));
      if (it == encoded_.end()) return absl::DataLossError("unknown record");
      return AdapterPtr(std::make_shared<Adapter>(*it->second));
    };
    auto store = AdapterStore::Create(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    call_.cancelled = &Cancelled;
    call_.cancelled_arg = &cancelled_;
  }

  AdapterPtr Make(const std::string& id, const std::string& request_id = "") {
    auto adapter = std::make_shared<Adapter>();
    adapter->info.adapter_id = id;
    adapter->info.tenant = "t";
    adapter->info.request_id = request_id;
    adapter->info.backbone = "b";
    adapter->info.size_bytes = 100;
    adapter->info.create_time = clock_.Now();
    adapter->info.expire_time = clock_.Now() + absl::Hours(1);
    return adapter;
  }

  FakeClock clock_;
  std::shared_ptr<FlakyPersistence> persistence_;
  std::unique_ptr<AdapterStore> store_;
  std::atomic<bool> cancelled_{false};
  CallContext call_;
  absl::Mutex mu_;
  std::map<std::string, AdapterPtr> encoded_ ABSL_GUARDED_BY(mu_);
};

TEST_F(StoreOutcomeTest, AnUnansweredWriteWithoutRequestIdIsTakenBack) {
  persistence_->set_answer(FlakyPersistence::Answer::kLostAfterStoring);
  auto result = store_->InsertIdempotent(Make("a"), call_);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("no answer within 1s"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("nothing is stored"));
  EXPECT_EQ(persistence_->discarded(), std::vector<std::string>{"a"});
  EXPECT_FALSE(persistence_->Has("a"));
  EXPECT_EQ(store_->size(), 0);
}

TEST_F(StoreOutcomeTest, AnUnansweredWriteWithRequestIdSaysTheOutcomeIsUnknown) {
  persistence_->set_answer(FlakyPersistence::Answer::kLostAfterStoring);
  auto lost = store_->InsertIdempotent(Make("a", "req-1"), call_);
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(lost.status().message()),
              HasSubstr("the outcome is unknown: retry with the same request_id"));
  EXPECT_TRUE(persistence_->discarded().empty());
  // The retry, with a new adapter for the same request, gets the stored one.
  persistence_->set_answer(FlakyPersistence::Answer::kNormal);
  auto retry = store_->InsertIdempotent(Make("b", "req-1"), call_);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ((*retry)->info.adapter_id, "a");
  EXPECT_FALSE(persistence_->Has("b"));

  // Not stored after all: the retry makes it.
  persistence_->set_answer(FlakyPersistence::Answer::kLostBeforeStoring);
  EXPECT_EQ(store_->InsertIdempotent(Make("c", "req-2"), call_).status().code(),
            absl::StatusCode::kUnavailable);
  persistence_->set_answer(FlakyPersistence::Answer::kNormal);
  auto made = store_->InsertIdempotent(Make("d", "req-2"), call_);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ((*made)->info.adapter_id, "d");
}

TEST_F(StoreOutcomeTest, APassedDeadlineStoresNothing) {
  call_.deadline = absl::Now() - absl::Milliseconds(1);
  bool put = false;
  persistence_->set_during_put([&] { put = true; });
  auto result = store_->InsertIdempotent(Make("a", "req"), call_);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("nothing is stored"));
  EXPECT_FALSE(put);
  EXPECT_EQ(persistence_->size(), 0);
  cancelled_ = true;
  call_.deadline = absl::InfiniteFuture();
  EXPECT_EQ(store_->InsertIdempotent(Make("b"), call_).status().code(),
            absl::StatusCode::kCancelled);
  EXPECT_FALSE(put);
}

TEST_F(StoreOutcomeTest, AWriteThatEndsAfterTheCallerLeftIsTakenBackWithoutRequestId) {
  persistence_->set_during_put([&] { cancelled_ = true; });
  auto result = store_->InsertIdempotent(Make("a"), call_);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("stored too late; nothing is stored"));
  EXPECT_FALSE(persistence_->Has("a"));
  EXPECT_EQ(store_->size(), 0);
  EXPECT_EQ(store_->Get("a", "t").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreOutcomeTest, AWriteThatEndsAfterTheCallerLeftIsKeptForItsRequestId) {
  persistence_->set_during_put([&] { cancelled_ = true; });
  auto result = store_->InsertIdempotent(Make("a", "req"), call_);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("the outcome is unknown"));
  EXPECT_TRUE(persistence_->Has("a"));
  persistence_->set_during_put(nullptr);
  CallContext retry_call;
  auto retry = store_->InsertIdempotent(Make("b", "req"), retry_call);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ((*retry)->info.adapter_id, "a");
  EXPECT_EQ(store_->FindByRequestId("t", "req")->info.adapter_id, "a");
}

TEST_F(StoreOutcomeTest, GetCachedNeverWaitsOnPersistenceAndConfirmsInTheBackground) {
  ASSERT_TRUE(store_->Insert(Make("a")).ok());
  persistence_->HoldExists();  // A hung store.
  for (int i = 0; i < 5; ++i) {
    auto cached = store_->GetCached("a", "t");
    ASSERT_TRUE(cached.ok()) << cached.status();
    EXPECT_EQ((*cached)->info.adapter_id, "a");
  }
  // Deleted by another replica; once the held check ends, the cache drops it.
  persistence_->Erase("a");
  persistence_->Release();
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (store_->size() != 0 && absl::Now() < deadline) {
    (void)store_->GetCached("a", "t");  // Asks for another check once the first ends.
    std::this_thread::yield();
  }
  EXPECT_EQ(store_->size(), 0);
  auto gone = store_->GetCached("a", "t");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, nullptr);  // No longer cached: only persistence can tell.
  EXPECT_EQ(store_->Get("a", "t").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(persistence_->exists_calls(), 1) << "one check at a time per adapter";
}

TEST_F(StoreOutcomeTest, GetCachedSaysWhenOnlyPersistenceCanTell) {
  ASSERT_TRUE(store_->Insert(Make("a")).ok());
  persistence_->Add(Make("b")->info, "rec:b");
  auto uncached = store_->GetCached("b", "t");
  ASSERT_TRUE(uncached.ok());
  EXPECT_EQ(*uncached, nullptr);  // Not cached: read it with Get, off the latency path.
  EXPECT_EQ(store_->GetCached("a", "other").status().code(), absl::StatusCode::kNotFound);
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(store_->GetCached("a", "t").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace adaptd::engine
