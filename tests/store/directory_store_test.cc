// The directory backend through the engine: adapters survive a new Engine on
// the same folder, corrupt files are skipped, expired ones removed, and a
// disk that refuses writes fails Adapt with nothing stored.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/engine/store/directory_persistence.h"
#include "server/engine/engine.h"
#include "tests/test_util/requests.h"
#include "tests/test_util/store_engines.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::engine {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::PredictProbes;
using testing::SamePredictions;

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class DirectoryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("adaptd_dir_store"); }
  void TearDown() override {
    chmod(dir_.c_str(), 0700);
    fs::remove_all(dir_);
  }

  Engine::Options Options() {
    Engine::Options options = testing::StoreTestEngineOptions();
    options.store.clock = &clock_;
    options.persistence.backend = "directory";
    options.persistence.directory = dir_;
    options.persistence.on_error = [this](const absl::Status& status) {
      errors_.push_back(std::string(status.message()));
    };
    return options;
  }

  std::unique_ptr<Engine> Open(Engine::Options options) {
    auto engine = Engine::Create(options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? *std::move(engine) : nullptr;
  }
  std::unique_ptr<Engine> Open() { return Open(Options()); }

  AdapterPtr MustAdapt(Engine& engine, const std::string& backbone, Method method,
                       const std::string& request_id = "",
                       absl::Duration ttl = absl::ZeroDuration()) {
    auto request = builder_.Adapt(backbone, 3, 3, method);
    request.request_id = request_id;
    request.ttl = ttl;
    auto adapter = engine.Adapt(request, ctx_);
    EXPECT_TRUE(adapter.ok()) << adapter.status();
    return adapter.ok() ? *adapter : nullptr;
  }

  std::vector<Prediction> MustPredict(Engine& engine, const std::string& id) {
    auto predictions = PredictProbes(engine, id, ctx_);
    EXPECT_TRUE(predictions.ok()) << predictions.status();
    return predictions.ok() ? *predictions : std::vector<Prediction>{};
  }

  std::string dir_;
  FakeClock clock_{absl::Now()};
  CallContext ctx_;
  testing::RequestBuilder builder_;
  std::vector<std::string> errors_;
};

TEST_F(DirectoryStoreTest, ANewEngineOnTheFolderPredictsIdentically) {
  std::vector<std::pair<AdapterPtr, std::vector<Prediction>>> before;
  {
    auto engine = Open();
    ASSERT_NE(engine, nullptr);
    for (auto [backbone, method] : {std::pair{"tiny", Method::kMeta},
                                    std::pair{"plain", Method::kFinetune},
                                    std::pair{"plain", Method::kPrototype}}) {
      AdapterPtr adapter =
          MustAdapt(*engine, backbone, method, absl::StrCat("r-", before.size()));
      ASSERT_NE(adapter, nullptr);
      before.emplace_back(adapter, MustPredict(*engine, adapter->info.adapter_id));
    }
  }
  EXPECT_EQ(FilesIn(dir_).size(), 3u);
  auto engine = Open();
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->store_info().adapters, 3);
  for (const auto& [adapter, predictions] : before) {
    const std::string& id = adapter->info.adapter_id;
    auto got = engine->GetAdapter(id, ctx_);
    ASSERT_TRUE(got.ok()) << got.status();
    const AdapterInfo& info = (*got)->info;
    EXPECT_EQ(info.labels, adapter->info.labels);
    EXPECT_EQ(info.method, adapter->info.method);
    EXPECT_EQ(info.backbone, adapter->info.backbone);
    EXPECT_EQ(info.request_id, adapter->info.request_id);
    EXPECT_EQ(info.create_time, adapter->info.create_time);
    EXPECT_EQ(info.expire_time, adapter->info.expire_time);
    EXPECT_EQ(info.size_bytes, adapter->info.size_bytes);
    EXPECT_EQ(info.stats.steps, adapter->info.stats.steps);
    EXPECT_EQ(info.stats.support_loss_after, adapter->info.stats.support_loss_after);
    std::string why;
    EXPECT_TRUE(SamePredictions(MustPredict(*engine, id), predictions, &why)) << id << ": " << why;
  }
  EXPECT_TRUE(errors_.empty());
}

TEST_F(DirectoryStoreTest, RequestIdStaysIdempotentAcrossARestart) {
  std::string id;
  {
    auto engine = Open();
    id = MustAdapt(*engine, "plain", Method::kPrototype, "retry-me")->info.adapter_id;
  }
  auto engine = Open();
  EXPECT_EQ(MustAdapt(*engine, "plain", Method::kPrototype, "retry-me")->info.adapter_id, id);
  EXPECT_EQ(FilesIn(dir_).size(), 1u);
  CallContext other;
  other.tenant = "other";
  auto request = builder_.Adapt("plain", 3, 3, Method::kPrototype);
  request.request_id = "retry-me";
  auto theirs = engine->Adapt(request, other);
  ASSERT_TRUE(theirs.ok());
  EXPECT_NE((*theirs)->info.adapter_id, id);
}

TEST_F(DirectoryStoreTest, ACorruptFileIsSkippedAndTheOthersLoad) {
  std::vector<std::string> ids;
  {
    auto engine = Open();
    for (int i = 0; i < 4; ++i) {
      ids.push_back(MustAdapt(*engine, "plain", Method::kPrototype)->info.adapter_id);
    }
  }
  const std::string flipped = dir_ + "/" + ids[0] + ".adapter";
  {
    std::fstream f(flipped, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  }
  const std::string truncated = dir_ + "/" + ids[1] + ".adapter";
  fs::resize_file(truncated, fs::file_size(truncated) / 2);
  std::ofstream(dir_ + "/ad_garbage.adapter") << "not an adapter";
  std::ofstream(dir_ + "/README") << "ignored";

  auto engine = Open();
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->store_info().adapters, 2);
  ASSERT_EQ(errors_.size(), 3u);
  std::string all = absl::StrJoin(errors_, "\n");
  EXPECT_THAT(all, HasSubstr(flipped));
  EXPECT_THAT(all, HasSubstr(truncated));
  EXPECT_THAT(all, HasSubstr("checksum mismatch"));
  EXPECT_EQ(engine->GetAdapter(ids[0], ctx_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine->GetAdapter(ids[1], ctx_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(engine->GetAdapter(ids[2], ctx_).ok());
  EXPECT_TRUE(engine->GetAdapter(ids[3], ctx_).ok());
  EXPECT_TRUE(fs::exists(flipped));  // Kept for inspection, not deleted.
}

TEST_F(DirectoryStoreTest, ExpiredAdaptersAreRemovedAtLoad) {
  std::string short_id, long_id;
  {
    auto engine = Open();
    short_id = MustAdapt(*engine, "plain", Method::kPrototype, "", absl::Minutes(1))
                   ->info.adapter_id;
    long_id = MustAdapt(*engine, "plain", Method::kPrototype, "", absl::Hours(1))
                  ->info.adapter_id;
  }
  clock_.Advance(absl::Minutes(2));
  auto engine = Open();
  EXPECT_EQ(engine->GetAdapter(short_id, ctx_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(engine->GetAdapter(long_id, ctx_).ok());
  EXPECT_EQ(FilesIn(dir_), std::vector<std::string>{long_id + ".adapter"});
}

TEST_F(DirectoryStoreTest, ExpiryWhileRunningRemovesTheFile) {
  auto engine = Open();
  const std::string id =
      MustAdapt(*engine, "plain", Method::kPrototype, "", absl::Minutes(1))->info.adapter_id;
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(engine->GetAdapter(id, ctx_).status().code(), absl::StatusCode::kNotFound);
  MustAdapt(*engine, "plain", Method::kPrototype);  // A write prunes expired files.
  EXPECT_FALSE(fs::exists(dir_ + "/" + id + ".adapter"));
}

TEST_F(DirectoryStoreTest, DeleteRemovesTheFileForGood) {
  std::string id;
  {
    auto engine = Open();
    id = MustAdapt(*engine, "plain", Method::kPrototype)->info.adapter_id;
    ASSERT_TRUE(engine->DeleteAdapter(id, ctx_).ok());
    EXPECT_TRUE(FilesIn(dir_).empty());
  }
  auto engine = Open();
  EXPECT_EQ(engine->GetAdapter(id, ctx_).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DirectoryStoreTest, CapacityEvictionKeepsTheFile) {
  auto options = Options();
  options.store.max_adapters = 1;
  auto engine = Open(options);
  AdapterPtr first = MustAdapt(*engine, "plain", Method::kPrototype);
  const auto before = MustPredict(*engine, first->info.adapter_id);
  MustAdapt(*engine, "tiny", Method::kPrototype);
  EXPECT_EQ(engine->store_info().adapters, 1);
  EXPECT_EQ(FilesIn(dir_).size(), 2u);
  std::string why;
  EXPECT_TRUE(SamePredictions(MustPredict(*engine, first->info.adapter_id), before, &why)) << why;
  auto page = engine->ListAdapters("", 10, "", ctx_);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->adapters.size(), 2u);
}

TEST_F(DirectoryStoreTest, QuotaCountsEveryFileOfTheTenant) {
  auto options = Options();
  options.store.max_adapters = 1;
  options.store.max_adapters_per_tenant = 2;
  auto engine = Open(options);
  MustAdapt(*engine, "plain", Method::kPrototype);
  MustAdapt(*engine, "plain", Method::kPrototype);
  auto over = engine->Adapt(builder_.Adapt("plain", 3, 3, Method::kPrototype), ctx_);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(over.status().message(), "tenant \"default\" is over its quota of 2 adapters");
  EXPECT_EQ(FilesIn(dir_).size(), 2u);
}

TEST_F(DirectoryStoreTest, LeftoverTempFilesAreRemovedAtOpen) {
  std::ofstream(dir_ + "/ad_torn.adapter.tmp") << "half a write";
  auto engine = Open();
  EXPECT_TRUE(FilesIn(dir_).empty());
  EXPECT_TRUE(errors_.empty());
}

TEST_F(DirectoryStoreTest, IdsThatAreNotFileNamesAreNotFound) {
  auto engine = Open();
  std::ofstream(dir_ + "/../escape.adapter") << "x";
  for (const char* id : {"../escape", "a/b", ".", "..", ""}) {
    auto status = engine->GetAdapter(id, ctx_).status();
    EXPECT_TRUE(absl::IsNotFound(status) || absl::IsInvalidArgument(status)) << id << status;
  }
  fs::remove(dir_ + "/../escape.adapter");
}

TEST_F(DirectoryStoreTest, AFileTooLargeForTheDiskFailsAdaptAndStoresNothing) {
  auto engine = Open();
  // Stands in for a full disk, and works as root: writes past RLIMIT_FSIZE
  // fail with EFBIG (SIGXFSZ ignored).
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct sigaction ignore {}, old_action {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGXFSZ, &ignore, &old_action);
  struct rlimit tiny = old_limit;
  tiny.rlim_cur = 64;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &tiny), 0);
  auto adapter = engine->Adapt(builder_.Adapt("plain", 3, 3, Method::kPrototype), ctx_);
  setrlimit(RLIMIT_FSIZE, &old_limit);
  sigaction(SIGXFSZ, &old_action, nullptr);

  ASSERT_FALSE(adapter.ok());
  EXPECT_EQ(adapter.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(adapter.status().message()), HasSubstr(dir_));
  EXPECT_THAT(std::string(adapter.status().message()), HasSubstr("File too large"));
  EXPECT_TRUE(FilesIn(dir_).empty());
  EXPECT_EQ(engine->store_info().adapters, 0);
  EXPECT_TRUE(engine->ListAdapters("", 10, "", ctx_)->adapters.empty());
  // The disk has room again: the same engine stores.
  EXPECT_NE(MustAdapt(*engine, "plain", Method::kPrototype), nullptr);
  EXPECT_EQ(FilesIn(dir_).size(), 1u);
}

TEST_F(DirectoryStoreTest, AReadOnlyFolderFailsAdaptAndStoresNothing) {
  auto engine = Open();
  ASSERT_EQ(chmod(dir_.c_str(), 0500), 0);
  if (access(dir_.c_str(), W_OK) == 0) {
    GTEST_SKIP() << "running with CAP_DAC_OVERRIDE (root): chmod does not stop writes; "
                    "AFileTooLargeForTheDisk and an unwritable folder at start cover the path";
  }
  auto adapter = engine->Adapt(builder_.Adapt("plain", 3, 3, Method::kPrototype), ctx_);
  ASSERT_FALSE(adapter.ok());
  EXPECT_EQ(adapter.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(adapter.status().message()), HasSubstr("Permission denied"));
  EXPECT_EQ(engine->store_info().adapters, 0);
  EXPECT_TRUE(FilesIn(dir_).empty());
}

TEST_F(DirectoryStoreTest, AFolderReplacedMidRunFailsAdaptAndStoresNothing) {
  // Works as root too: a file where the folder was refuses every write.
  auto engine = Open();
  const std::string moved = dir_ + ".moved";
  fs::rename(dir_, moved);
  std::ofstream(dir_) << "not a folder";
  auto adapter = engine->Adapt(builder_.Adapt("plain", 3, 3, Method::kPrototype), ctx_);
  fs::remove(dir_);
  fs::rename(moved, dir_);
  ASSERT_FALSE(adapter.ok());
  EXPECT_EQ(adapter.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(adapter.status().message()), HasSubstr(dir_));
  EXPECT_THAT(std::string(adapter.status().message()), HasSubstr("Not a directory"));
  EXPECT_EQ(engine->store_info().adapters, 0);
  EXPECT_TRUE(FilesIn(dir_).empty());
}

TEST_F(DirectoryStoreTest, AnUnwritableFolderAtStartIsAClearError) {
  for (const std::string& bad : {std::string("/proc/self"), std::string("/proc/adaptd/store"),
                                 dir_ + "/file/below"}) {
    std::ofstream(dir_ + "/file") << "a file, not a folder";
    auto options = Options();
    options.persistence.directory = bad;
    auto engine = Engine::Create(options);
    ASSERT_FALSE(engine.ok()) << bad;
    EXPECT_EQ(engine.status().code(), absl::StatusCode::kUnavailable) << engine.status();
    EXPECT_THAT(std::string(engine.status().message()), HasSubstr(bad));
  }
}

TEST_F(DirectoryStoreTest, BadBackendSettingsAreInvalidArguments) {
  auto options = Options();
  options.persistence.directory = "";
  EXPECT_EQ(Engine::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = Options();
  options.persistence.backend = "floppy";
  auto engine = Engine::Create(options);
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(engine.status().message()), HasSubstr("memory, directory or redis"));
}

TEST_F(DirectoryStoreTest, ConcurrentAdaptsWithOneRequestIdStoreOne) {
  auto engine = Open();
  std::vector<std::thread> threads;
  std::vector<std::string> ids(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      testing::RequestBuilder builder;
      auto request = builder.Adapt("plain", 3, 3, Method::kPrototype);
      request.request_id = "same";
      auto adapter = engine->Adapt(request, ctx_);
      if (adapter.ok()) ids[i] = (*adapter)->info.adapter_id;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(FilesIn(dir_).size(), 1u);
}

}  // namespace
}  // namespace adaptd::engine
