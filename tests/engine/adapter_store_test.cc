#include "server/engine/store/adapter_store.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace adaptd::engine {
namespace {

struct Removal {
  std::string id;
  RemovalReason reason;
};

class AdapterStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<AdapterStore> MakeStore(int64_t max_adapters, int64_t max_bytes) {
    AdapterStore::Options options;
    options.max_adapters = max_adapters;
    options.max_bytes = max_bytes;
    options.clock = &clock_;
    options.on_remove = [this](const AdapterInfo& info, RemovalReason reason) {
      removed_.push_back({info.adapter_id, reason});
    };
    auto store = AdapterStore::Create(options);
    EXPECT_TRUE(store.ok());
    return *std::move(store);
  }

  AdapterPtr Make(const std::string& id, int64_t bytes = 100,
                  absl::Duration ttl = absl::Hours(1), const std::string& tenant = "t") {
    auto adapter = std::make_shared<Adapter>();
    adapter->info.adapter_id = id;
    adapter->info.tenant = tenant;
    adapter->info.backbone = "b";
    adapter->info.size_bytes = bytes;
    adapter->info.create_time = clock_.Now();
    adapter->info.expire_time = clock_.Now() + ttl;
    return adapter;
  }

  FakeClock clock_;
  std::vector<Removal> removed_;
};

TEST_F(AdapterStoreTest, InsertGetDelete) {
  auto store = MakeStore(10, 10000);
  ASSERT_TRUE(store->Insert(Make("a")).ok());
  auto got = store->Get("a", "t");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)->info.adapter_id, "a");
  EXPECT_EQ(store->Insert(Make("a")).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(store->Delete("a", "t").ok());
  EXPECT_EQ(store->Get("a", "t").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Delete("a", "t").code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(removed_.size(), 1u);
  EXPECT_EQ(removed_[0].reason, RemovalReason::kDeleted);
}

TEST_F(AdapterStoreTest, ExpiresByTtl) {
  auto store = MakeStore(10, 10000);
  ASSERT_TRUE(store->Insert(Make("short", 100, absl::Minutes(1))).ok());
  ASSERT_TRUE(store->Insert(Make("long", 100, absl::Hours(1))).ok());
  clock_.Advance(absl::Seconds(59));
  EXPECT_TRUE(store->Get("short", "t").ok());
  clock_.Advance(absl::Seconds(2));
  auto got = store->Get("short", "t");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->Get("long", "t").ok());
  ASSERT_EQ(removed_.size(), 1u);
  EXPECT_EQ(removed_[0].id, "short");
  EXPECT_EQ(removed_[0].reason, RemovalReason::kTtl);
  EXPECT_EQ(store->size(), 1);
  EXPECT_EQ(store->bytes(), 100);
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(store->ExpireNow(), 1);
  EXPECT_EQ(store->size(), 0);
}

TEST_F(AdapterStoreTest, EvictsLeastRecentlyUsedByCount) {
  auto store = MakeStore(3, 10000);
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(store->Insert(Make(id)).ok());
  ASSERT_TRUE(store->Get("a", "t").ok());  // "b" is now least recently used.
  ASSERT_TRUE(store->Insert(Make("d")).ok());
  EXPECT_EQ(store->size(), 3);
  EXPECT_EQ(store->Get("b", "t").status().code(), absl::StatusCode::kNotFound);
  for (const char* id : {"a", "c", "d"}) EXPECT_TRUE(store->Get(id, "t").ok()) << id;
  ASSERT_EQ(removed_.size(), 1u);
  EXPECT_EQ(removed_[0].id, "b");
  EXPECT_EQ(removed_[0].reason, RemovalReason::kCapacity);
}

TEST_F(AdapterStoreTest, EvictsByBytes) {
  auto store = MakeStore(100, 1000);
  ASSERT_TRUE(store->Insert(Make("a", 400)).ok());
  ASSERT_TRUE(store->Insert(Make("b", 400)).ok());
  ASSERT_TRUE(store->Insert(Make("c", 400)).ok());  // Needs "a" gone.
  EXPECT_EQ(store->bytes(), 800);
  EXPECT_EQ(store->Get("a", "t").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Insert(Make("huge", 1001)).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(store->Get("b", "t").ok());  // A refused insert evicts nothing.
  EXPECT_TRUE(store->Get("c", "t").ok());
}

TEST_F(AdapterStoreTest, ExpiredGoFirstBeforeLiveOnes) {
  auto store = MakeStore(2, 10000);
  ASSERT_TRUE(store->Insert(Make("live")).ok());
  ASSERT_TRUE(store->Insert(Make("dying", 100, absl::Seconds(1))).ok());
  ASSERT_TRUE(store->Get("dying", "t").ok());
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(store->Insert(Make("new")).ok());
  EXPECT_TRUE(store->Get("live", "t").ok());
  ASSERT_EQ(removed_.size(), 1u);
  EXPECT_EQ(removed_[0].reason, RemovalReason::kTtl);
}

TEST_F(AdapterStoreTest, OtherTenantsSeeNotFound) {
  auto store = MakeStore(10, 10000);
  ASSERT_TRUE(store->Insert(Make("a", 100, absl::Hours(1), "alice")).ok());
  EXPECT_EQ(store->Get("a", "bob").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Delete("a", "bob").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->Get("a", "alice").ok());
  auto page = store->List("bob", "", 10, "");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->adapters.empty());
}

TEST_F(AdapterStoreTest, ListPages) {
  auto store = MakeStore(100, 100000);
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(store->Insert(Make(absl::StrCat("id", 100 + i))).ok());
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = store->List("t", "", 10, token);
    ASSERT_TRUE(page.ok());
    for (const auto& a : page->adapters) seen.push_back(a->info.adapter_id);
    token = page->next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(store->List("t", "other-backbone", 10, "")->adapters.size(), 0u);
  EXPECT_EQ(store->List("t", "", -1, "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AdapterStoreTest, FindsByRequestIdPerTenant) {
  auto store = MakeStore(10, 10000);
  auto a = Make("a");
  std::const_pointer_cast<Adapter>(a)->info.request_id = "req-1";
  ASSERT_TRUE(store->Insert(a).ok());
  ASSERT_NE(store->FindByRequestId("t", "req-1"), nullptr);
  EXPECT_EQ(store->FindByRequestId("t", "req-1")->info.adapter_id, "a");
  EXPECT_EQ(store->FindByRequestId("other", "req-1"), nullptr);
  ASSERT_TRUE(store->Delete("a", "t").ok());
  EXPECT_EQ(store->FindByRequestId("t", "req-1"), nullptr);
}

TEST_F(AdapterStoreTest, HeldAdapterSurvivesDeletion) {
  auto store = MakeStore(10, 10000);
  ASSERT_TRUE(store->Insert(Make("a")).ok());
  AdapterPtr held = *store->Get("a", "t");
  ASSERT_TRUE(store->Delete("a", "t").ok());
  EXPECT_EQ(held->info.adapter_id, "a");  // Still valid: shared ownership.
  EXPECT_EQ(held.use_count(), 1);
}

}  // namespace
}  // namespace adaptd::engine
