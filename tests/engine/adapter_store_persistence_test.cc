// The store's contract over a persistence (write-through, read-through,
// cache-only eviction, revalidation across replicas, outages) and its
// per-tenant quotas, against FakePersistence. No LibTorch.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "server/engine/store/adapter_store.h"
#include "tests/test_util/fake_persistence.h"

namespace adaptd::engine {
namespace {

using ::testing::HasSubstr;
using testing::FakePersistence;

// Stands in for the engine's codec: a record names an adapter kept here.
class FakeCodec {
 public:
  absl::StatusOr<std::string> Encode(const Adapter& adapter) {
    absl::MutexLock lock(&mu_);
    adapters_[adapter.info.adapter_id] = std::make_shared<Adapter>(adapter);
    return absl::StrCat("rec:", adapter.info.adapter_id);
  }
  absl::StatusOr<AdapterPtr> Decode(absl::string_view bytes) {
    absl::MutexLock lock(&mu_);
    if (!absl::ConsumePrefix(&bytes, "rec:")) return absl::DataLossError("not a record");
    auto it = adapters_.find(std::string(bytes));
    if (it == adapters_.end()) return absl::DataLossError("unknown record");
    // A fresh object, as decoding bytes gives.
    return AdapterPtr(std::make_shared<Adapter>(*it->second));
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, AdapterPtr> adapters_ ABSL_GUARDED_BY(mu_);
};

class StorePersistenceTest : public ::testing::Test {
 protected:
  AdapterStore::Options BaseOptions() {
    AdapterStore::Options options;
    options.max_adapters = 100;
    options.max_bytes = 100000;
    options.clock = &clock_;
    options.on_remove = [this](const AdapterInfo& info, RemovalReason reason) {
      absl::MutexLock lock(&mu_);
      removed_.push_back({info.adapter_id, reason});
    };
    options.on_error = [this](const absl::Status& status) {
      absl::MutexLock lock(&mu_);
      errors_.push_back(status);
    };
    return options;
  }

  std::unique_ptr<AdapterStore> MakeStore(std::shared_ptr<FakePersistence> persistence,
                                          AdapterStore::Options options) {
    options.persistence = persistence;
    options.encode = [this](const Adapter& a) { return codec_.Encode(a); };
    options.decode = [this](absl::string_view b) { return codec_.Decode(b); };
    auto store = AdapterStore::Create(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return *std::move(store);
  }

  AdapterPtr Make(const std::string& id, const std::string& tenant = "t",
                  const std::string& request_id = "", int64_t bytes = 100,
                  const std::string& backbone = "b") {
    auto adapter = std::make_shared<Adapter>();
    adapter->info.adapter_id = id;
    adapter->info.tenant = tenant;
    adapter->info.request_id = request_id;
    adapter->info.backbone = backbone;
    adapter->info.size_bytes = bytes;
    adapter->info.create_time = clock_.Now();
    adapter->info.expire_time = clock_.Now() + absl::Hours(1);
    return adapter;
  }

  FakeClock clock_;
  FakeCodec codec_;
  absl::Mutex mu_;
  std::vector<std::pair<std::string, RemovalReason>> removed_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> errors_ ABSL_GUARDED_BY(mu_);
};

TEST_F(StorePersistenceTest, WritesThroughBeforeItAcknowledges) {
  auto fake = std::make_shared<FakePersistence>(false, &clock_);
  auto store = MakeStore(fake, BaseOptions());
  ASSERT_TRUE(store->Insert(Make("a")).ok());
  EXPECT_TRUE(fake->Has("a"));
  EXPECT_EQ(store->size(), 1);
}

TEST_F(StorePersistenceTest, FailedWriteStoresNothing) {
  auto fake = std::make_shared<FakePersistence>(false, &clock_);
  auto store = MakeStore(fake, BaseOptions());
  fake->SetDown(true);
  absl::Status status = store->Insert(Make("a"));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_EQ(store->size(), 0);
  fake->SetDown(false);
  EXPECT_FALSE(fake->Has("a"));
  EXPECT_EQ(store->Get("a", "t").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StorePersistenceTest, CapacityEvictionKeepsThePersistedCopy) {
  auto fake = std::make_shared<FakePersistence>(false, &clock_);
  auto options = BaseOptions();
  options.max_adapters = 2;
  auto store = MakeStore(fake, options);
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(store->Insert(Make(id)).ok());
  EXPECT_EQ(store->size(), 2);
  {
    absl::MutexLock lock(&mu_);
    ASSERT_EQ(removed_.size(), 1u);
    EXPECT_EQ(removed_[0].first, "a");
    EXPECT_EQ(removed_[0].second, RemovalReason::kCapacity);
  }
  EXPECT_TRUE(fake->Has("a"));
  const int gets = fake->gets();
  auto a = store->Get("a", "t");  // A miss reads through and caches.
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->info.adapter_id, "a");
  EXPECT_EQ(fake->gets(), gets + 1);
  ASSERT_TRUE(store->Get("a", "t").ok());
  EXPECT_EQ(fake->gets(), gets + 1);  // Cached now.
  EXPECT_EQ(store->size(), 2);
}

TEST_F(StorePersistenceTest, DeleteRemovesItEverywhere) {
  auto fake = std::make_shared<FakePersistence>(false, &clock_);
  auto store = MakeStore(fake, BaseOptions());
  ASSERT_TRUE(store->Insert(Make("a")).ok());
  EXPECT_EQ(store->Delete("a", "other").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(fake->Has("a"));
  ASSERT_TRUE(store->Delete("a", "t").ok());
  EXPECT_FALSE(fake->Has("a"));
  EXPECT_EQ(store->Get("a", "t").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Delete("a", "t").code(), absl::StatusCode::kNotFound);
}

TEST_F(StorePersistenceTest, DeleteOfAnUncachedAdapterReadsItFirst) {
  auto fake = std::make_shared<FakePersistence>(false, &clock_);
  auto writer = MakeStore(fake, BaseOptions());
  auto store = MakeStore(fake, BaseOptions());
  ASSERT_TRUE(writer->Insert(Make("a", "alice")).ok());
  EXPECT_EQ(store->Delete("a", "bob").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(fake->Has("a"));
  ASSERT_TRUE(store->Delete("a", "alice").ok());
  EXPECT_FALSE(fake->Has("a"));
}

TEST_F(StorePersistenceTest, ReadThroughIsScopedToTheTenant) {
  auto fake = std::make_shared<FakePersistence>(false, &clock_);
  auto replica_a = MakeStore(fake, BaseOptions());
  auto replica_b = MakeStore(fake, BaseOptions());
  ASSERT_TRUE(replica_a->Insert(Make("a", "alice")).ok());
  EXPECT_EQ(replica_b->Get("a", "bob").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(replica_b->size(), 0);  // Another tenant's probe caches nothing.
  ASSERT_TRUE(replica_b->Get("a", "alice").ok());
  EXPECT_EQ(replica_b->size(), 1);
}

TEST_F(StorePersistenceTest, ExpiredRecordsAreNotFound) {
  auto fake = std::make_shared<FakePersistence>(false, &clock_);
  auto store = MakeStore(fake, BaseOptions());
  ASSERT_TRUE(store->Insert(Make("a")).ok());
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(store->Get("a", "t").status().code(), absl::StatusCode::kNotFound);
  {
    absl::MutexLock lock(&mu_);
    ASSERT_EQ(removed_.size(), 1u);
    EXPECT_EQ(removed_[0].second, RemovalReason::kTtl);
  }
  EXPECT_FALSE(fake->Has("a"));
}

TEST_F(StorePersistenceTest, SharedPersistenceSeesDeletesOfOtherReplicas) {
  auto fake = std::make_shared<FakePersistence>(/*shared=*/true, &clock_);
  auto replica_a = MakeStore(fake, BaseOptions());
  auto replica_b = MakeStore(fake, BaseOptions());
  ASSERT_TRUE(replica_a->Insert(Make("a")).ok());
  ASSERT_TRUE(replica_b->Get("a", "t").ok());  // Cached on B too.
  ASSERT_TRUE(replica_a->Delete("a", "t").ok());
  EXPECT_EQ(replica_b->Get("a", "t").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(replica_b->size(), 0);
}

TEST_F(StorePersistenceTest, RevalidationIntervalTrustsTheCacheMeanwhile) {
  auto fake = std::make_shared<FakePersistence>(/*shared=*/true, &clock_);
  auto options = BaseOptions();
  options.revalidate_after = absl::Minutes(1);
  auto store = MakeStore(fake, options);
  ASSERT_TRUE(store->Insert(Make("a")).ok());
  fake->Erase("a");  // Deleted by another replica.
  EXPECT_TRUE(store->Get("a", "t").ok());
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(store->Get("a", "t").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StorePersistenceTest, OutageServesCachedAdaptersAndRefusesWrites) {
  auto fake = std::make_shared<FakePersistence>(/*shared=*/true, &clock_);
  auto options = BaseOptions();
  options.max_adapters = 1;
  auto store = MakeStore(fake, options);
  ASSERT_TRUE(store->Insert(Make("old")).ok());
  ASSERT_TRUE(store->Insert(Make("cached")).ok());  // Evicts "old" from the cache.
  fake->SetDown(true);
  EXPECT_TRUE(store->Get("cached", "t").ok());
  EXPECT_EQ(store->Get("old", "t").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->Insert(Make("new")).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->Delete("cached", "t").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->List("t", "", 10, "").status().code(), absl::StatusCode::kUnavailable);
  fake->SetDown(false);
  EXPECT_TRUE(store->Get("old", "t").ok());
  EXPECT_FALSE(fake->Has("new"));
}

TEST_F(StorePersistenceTest, RequestIdIsIdempotentAcrossReplicas) {
  auto fake = std::make_shared<FakePersistence>(/*shared=*/true, &clock_);
  auto replica_a = MakeStore(fake, BaseOptions());
  auto replica_b = MakeStore(fake, BaseOptions());
  auto first = replica_a->InsertIdempotent(Make("a1", "t", "req"));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(replica_b->FindByRequestId("t", "req")->info.adapter_id, "a1");
  EXPECT_EQ(replica_b->FindByRequestId("other", "req"), nullptr);
  // A retry that raced past FindByRequestId still gets the first adapter.
  auto second = replica_b->InsertIdempotent(Make("b1", "t", "req"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*second)->info.adapter_id, "a1");
  EXPECT_FALSE(fake->Has("b1"));
}

TEST_F(StorePersistenceTest, QuotasCountEveryStoredAdapterNotOnlyCachedOnes) {
  auto fake = std::make_shared<FakePersistence>(false, &clock_);
  auto options = BaseOptions();
  options.max_adapters = 1;  // The cache holds one; the quota is over all.
  options.max_adapters_per_tenant = 2;
  auto store = MakeStore(fake, options);
  ASSERT_TRUE(store->Insert(Make("a")).ok());
  ASSERT_TRUE(store->Insert(Make("b")).ok());
  absl::Status over = store->Insert(Make("c"));
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(over.message(), "tenant \"t\" is over its quota of 2 adapters");
  EXPECT_TRUE(store->Insert(Make("x", "someone-else")).ok());
  ASSERT_TRUE(store->Delete("a", "t").ok());
  EXPECT_TRUE(store->Insert(Make("c")).ok());
}

TEST_F(StorePersistenceTest, ListCoversUncachedAdaptersInIdOrder) {
  auto fake = std::make_shared<FakePersistence>(false, &clock_);
  auto options = BaseOptions();
  options.max_adapters = 3;
  auto store = MakeStore(fake, options);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        store->Insert(Make(absl::StrCat("id", 10 + i), "t", "", 100, i % 2 ? "odd" : "even"))
            .ok());
  }
  ASSERT_TRUE(store->Insert(Make("zz", "other")).ok());
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = store->List("t", "", 4, token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& a : page->adapters) seen.push_back(a->info.adapter_id);
    token = page->next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 10u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(store->size(), 3);  // Listing does not fill the cache.
  auto odd = store->List("t", "odd", 3, "");
  ASSERT_TRUE(odd.ok());
  ASSERT_EQ(odd->adapters.size(), 3u);
  EXPECT_EQ(odd->adapters[0]->info.adapter_id, "id11");
  EXPECT_EQ(odd->next_page_token, "id15");
  auto rest = store->List("t", "odd", 3, odd->next_page_token);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->adapters.size(), 2u);
  EXPECT_EQ(rest->next_page_token, "");
}

TEST_F(StorePersistenceTest, LoadSkipsRecordsThatDoNotDecode) {
  auto fake = std::make_shared<FakePersistence>(false, &clock_);
  auto writer = MakeStore(fake, BaseOptions());
  ASSERT_TRUE(writer->Insert(Make("a")).ok());
  ASSERT_TRUE(writer->Insert(Make("b")).ok());
  fake->Add(Make("bad")->info, "garbage");
  auto options = BaseOptions();
  auto store = MakeStore(fake, options);
  auto loaded = store->LoadFromPersistence();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, 2);
  absl::MutexLock lock(&mu_);
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_THAT(std::string(errors_[0].message()), HasSubstr("\"bad\""));
}

TEST_F(StorePersistenceTest, LoadStopsCachingWhenFull) {
  auto fake = std::make_shared<FakePersistence>(false, &clock_);
  auto writer = MakeStore(fake, BaseOptions());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(writer->Insert(Make(absl::StrCat("a", i))).ok());
  auto options = BaseOptions();
  options.max_adapters = 3;
  auto store = MakeStore(fake, options);
  EXPECT_EQ(*store->LoadFromPersistence(), 3);
  absl::MutexLock lock(&mu_);
  EXPECT_TRUE(removed_.empty());  // Nothing evicted to load.
}

// The memory backend: the cache is the store.

TEST_F(StorePersistenceTest, MemoryQuotaOnAdapters) {
  auto options = BaseOptions();
  options.max_adapters_per_tenant = 2;
  auto store = *AdapterStore::Create(options);
  ASSERT_TRUE(store->Insert(Make("a", "alice")).ok());
  ASSERT_TRUE(store->Insert(Make("b", "alice")).ok());
  absl::Status over = store->Insert(Make("c", "alice"));
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(over.message(), "tenant \"alice\" is over its quota of 2 adapters");
  EXPECT_TRUE(store->Insert(Make("d", "bob")).ok());
  ASSERT_TRUE(store->Delete("a", "alice").ok());
  EXPECT_TRUE(store->Insert(Make("c", "alice")).ok());
  clock_.Advance(absl::Hours(2));  // Expired adapters count no more.
  EXPECT_TRUE(store->Insert(Make("e", "alice")).ok());
}

TEST_F(StorePersistenceTest, MemoryQuotaOnBytes) {
  auto options = BaseOptions();
  options.max_bytes_per_tenant = 250;
  auto store = *AdapterStore::Create(options);
  ASSERT_TRUE(store->Insert(Make("a", "alice", "", 100)).ok());
  ASSERT_TRUE(store->Insert(Make("b", "alice", "", 100)).ok());
  absl::Status over = store->Insert(Make("c", "alice", "", 100));
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(over.message(), "tenant \"alice\" is over its quota of 250 bytes");
  EXPECT_TRUE(store->Insert(Make("c", "alice", "", 50)).ok());
}

TEST_F(StorePersistenceTest, MemoryInsertIsIdempotentPerRequest) {
  auto store = *AdapterStore::Create(BaseOptions());
  auto first = store->InsertIdempotent(Make("a", "t", "req"));
  ASSERT_TRUE(first.ok());
  auto second = store->InsertIdempotent(Make("b", "t", "req"));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)->info.adapter_id, "a");
  EXPECT_EQ(store->size(), 1);
  auto other = store->InsertIdempotent(Make("c", "u", "req"));
  EXPECT_EQ((*other)->info.adapter_id, "c");
}

TEST_F(StorePersistenceTest, RejectsBadOptions) {
  auto options = BaseOptions();
  options.max_adapters_per_tenant = -1;
  EXPECT_EQ(AdapterStore::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = BaseOptions();
  options.persistence = std::make_shared<FakePersistence>(false, &clock_);
  EXPECT_EQ(AdapterStore::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace adaptd::engine
