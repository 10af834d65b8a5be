// Two real adaptd processes on one real redis-server, as the deploy kit runs
// its replicas (--adapter_store=redis): an adapter created on one is served
// by the other, deleted on one is gone on both, and survives either process
// being killed with SIGKILL and restarted.
#include <signal.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
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

constexpr auto kCallTimeout = std::chrono::seconds(60);
// How long a delete on one replica may take to be seen by the other.
constexpr absl::Duration kPropagation = absl::Seconds(30);

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  return ctx;
}

// 3-way 3-shot on "plain" from class `first`; the new adapter's id.
absl::StatusOr<std::string> Adapt(v1::AdaptationService::Stub& stub, int first) {
  v1::AdaptRequest request = AdaptRequest("plain", 3, 3, v1::PROTOTYPE, first);
  v1::AdaptResponse response;
  grpc::Status status = stub.Adapt(Context().get(), request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  return response.adapter().adapter_id();
}

// What `adapter_id` answers for held-out instances of classes first..first+2:
// each label and its probability, or the call's status.
absl::StatusOr<std::vector<std::pair<std::string, float>>> Predict(
    v1::AdaptationService::Stub& stub, const std::string& adapter_id, int first) {
  v1::PredictRequest request;
  request.set_adapter_id(adapter_id);
  for (int c = first; c < first + 3; ++c) {
    for (int i = 10; i < 13; ++i) *request.add_inputs() = TensorInput(c, i);
  }
  v1::PredictResponse response;
  grpc::Status status = stub.Predict(Context().get(), request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  std::vector<std::pair<std::string, float>> out;
  for (const auto& p : response.predictions()) out.emplace_back(p.label(), p.probability());
  return out;
}

grpc::StatusCode GetAdapterCode(v1::AdaptationService::Stub& stub, const std::string& id) {
  v1::GetAdapterRequest request;
  request.set_adapter_id(id);
  v1::Adapter adapter;
  return stub.GetAdapter(Context().get(), request, &adapter).error_code();
}

// Every adapter id ListAdapters returns, over all pages.
std::vector<std::string> ListedIds(v1::AdaptationService::Stub& stub) {
  std::vector<std::string> ids;
  v1::ListAdaptersRequest request;
  do {
    v1::ListAdaptersResponse response;
    grpc::Status status = stub.ListAdapters(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    for (const auto& a : response.adapters()) ids.push_back(a.adapter_id());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return ids;
}

bool Contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

class TwoReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::Available()) GTEST_SKIP() << "redis-server is not installed";
    auto redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    dir_ = MakeTempDir("adaptd_two_replicas");
    flags_ = {"--host=127.0.0.1",
              "--port=0",
              "--metrics_port=-1",
              absl::StrCat("--model_repository=", StoreTestRepository()),
              "--device=cpu",
              "--intra_op_threads=1",
              "--workers=2",
              "--nvml_library=/nonexistent/libnvidia-ml.so.1",
              "--adapter_store=redis",
              absl::StrCat("--redis_address=", redis_->address())};
    for (int r = 0; r < 2; ++r) StartReplica(r);
  }
  void TearDown() override {
    for (auto& replica : replicas_) replica.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Starts (or restarts) replica `r`, its log numbered by start.
  void StartReplica(int r) {
    auto replica = AdaptdProcess::Start(ADAPTD_BINARY, flags_,
                                        absl::StrCat(dir_, "/replica-", r, "-", ++starts_, ".log"));
    ASSERT_TRUE(replica.ok()) << replica.status();
    replicas_[r] = *std::move(replica);
  }
  v1::AdaptationService::Stub& stub(int r) { return replicas_[r]->stub(); }

  std::unique_ptr<RedisServer> redis_;
  std::string dir_;
  std::vector<std::string> flags_;
  std::array<std::unique_ptr<AdaptdProcess>, 2> replicas_;
  int starts_ = 0;
};

TEST_F(TwoReplicaTest, AnAdapterCreatedOnOneIsServedByTheOther) {
  for (int creator = 0; creator < 2; ++creator) {
    const int other = 1 - creator;
    const int first = 3 * creator;
    auto id = Adapt(stub(creator), first);
    ASSERT_TRUE(id.ok()) << id.status();
    auto here = Predict(stub(creator), *id, first);
    ASSERT_TRUE(here.ok()) << here.status();
    auto there = Predict(stub(other), *id, first);
    ASSERT_TRUE(there.ok()) << "replica " << other << " does not serve replica " << creator
                            << "'s adapter: " << there.status();
    EXPECT_EQ(*there, *here);
    EXPECT_EQ(GetAdapterCode(stub(other), *id), grpc::StatusCode::OK);
    EXPECT_TRUE(Contains(ListedIds(stub(other)), *id));
  }
}

TEST_F(TwoReplicaTest, AnAdapterDeletedOnOneIsGoneOnBoth) {
  auto id = Adapt(stub(0), 0);
  ASSERT_TRUE(id.ok()) << id.status();
  // Both replicas have used (and cached) it before the delete.
  ASSERT_TRUE(Predict(stub(0), *id, 0).ok());
  ASSERT_TRUE(Predict(stub(1), *id, 0).ok());

  v1::DeleteAdapterRequest request;
  request.set_adapter_id(*id);
  google::protobuf::Empty empty;
  grpc::Status deleted = stub(1).DeleteAdapter(Context().get(), request, &empty);
  ASSERT_TRUE(deleted.ok()) << deleted.error_message();

  EXPECT_EQ(Predict(stub(1), *id, 0).status().code(), absl::StatusCode::kNotFound);
  // The replica that created and cached it stops serving it too.
  EXPECT_TRUE(WaitFor(
      [&] { return Predict(stub(0), *id, 0).status().code() == absl::StatusCode::kNotFound; },
      kPropagation))
      << "replica 0 still serves an adapter deleted on replica 1";
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(GetAdapterCode(stub(r), *id), grpc::StatusCode::NOT_FOUND) << "replica " << r;
    EXPECT_FALSE(Contains(ListedIds(stub(r)), *id)) << "replica " << r;
  }
  // A second delete, on the other replica, finds nothing.
  EXPECT_EQ(stub(0).DeleteAdapter(Context().get(), request, &empty).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(TwoReplicaTest, AdaptersSurviveEitherReplicaBeingKilled) {
  struct Made {
    std::string id;
    int first;
    std::vector<std::pair<std::string, float>> predictions;
  };
  std::vector<Made> made;
  auto make = [&](int r, int first) {
    auto id = Adapt(stub(r), first);
    ASSERT_TRUE(id.ok()) << id.status();
    auto predictions = Predict(stub(r), *id, first);
    ASSERT_TRUE(predictions.ok()) << predictions.status();
    made.push_back({*id, first, *predictions});
  };
  auto all_served_by = [&](int r, const std::string& when) {
    for (const Made& m : made) {
      auto predictions = Predict(stub(r), m.id, m.first);
      ASSERT_TRUE(predictions.ok()) << when << ": replica " << r << " lost " << m.id << ": "
                                    << predictions.status();
      EXPECT_EQ(*predictions, m.predictions) << when << ": replica " << r << ", " << m.id;
    }
  };
  make(0, 0);
  make(1, 3);
  ASSERT_FALSE(HasFatalFailure());

  for (int victim = 0; victim < 2; ++victim) {
    const int survivor = 1 - victim;
    const std::string when = absl::StrCat("replica ", victim, " killed");
    replicas_[victim]->Kill();
    all_served_by(survivor, when);
    // Created while the other replica is down.
    make(survivor, 2 + victim);
    ASSERT_FALSE(HasFatalFailure());
    replicas_[victim].reset();
    StartReplica(victim);
    ASSERT_FALSE(HasFatalFailure());
    all_served_by(victim, when + " and restarted");
    all_served_by(survivor, when + " and restarted");
  }
}

}  // namespace
}  // namespace adaptd::testing
