// Model control through gRPC: LoadModel, ReloadModel and UnloadModel, the
// per-backbone health service, a broken folder reported while the others
// serve, and a rolling reload under Predict load with no failed request.
#include <atomic>
#include <filesystem>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/common/file_util.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/test_server.h"
#include "tests/test_util/tiny_models.h"

namespace adaptd::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using grpc::health::v1::HealthCheckResponse;

class ModelControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = MakeTempDir("adaptd_model_control");
    WriteTinyConv4Model(repo_ + "/a", "a", /*with_meta=*/false, /*seed=*/7);
    WriteTinyConv4Model(repo_ + "/b", "b", /*with_meta=*/false, /*seed=*/9);
    // A folder whose model.pbtxt names weights that are not there.
    WriteTinyConv4Model(repo_ + "/broken", "broken", /*with_meta=*/false);
    fs::remove(repo_ + "/broken/backbone.pt");
    TestServerOptions options;
    options.model_repository = repo_;
    options.workers = 4;
    server_ = std::make_unique<TestServer>(options);
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(repo_);
  }

  v1::ListBackbonesResponse List() {
    grpc::ClientContext ctx;
    v1::ListBackbonesResponse response;
    EXPECT_TRUE(server_->stub().ListBackbones(&ctx, {}, &response).ok());
    return response;
  }
  std::vector<std::string> BackboneNames() {
    std::vector<std::string> names;
    const v1::ListBackbonesResponse list = List();
    for (const auto& b : list.backbones()) names.push_back(b.name());
    return names;
  }
  v1::ModelStatus Status(const std::string& model) {
    const v1::ListBackbonesResponse list = List();
    for (const auto& s : list.models()) {
      if (s.model() == model) return s;
    }
    return {};
  }
  grpc::Status Control(const char* rpc, const std::string& model, v1::ModelStatus* out) {
    grpc::ClientContext ctx;
    v1::LoadModelRequest load;
    load.set_model(model);
    v1::UnloadModelRequest unload;
    unload.set_model(model);
    const std::string name = rpc;
    if (name == "load") return server_->stub().LoadModel(&ctx, load, out);
    if (name == "reload") return server_->stub().ReloadModel(&ctx, load, out);
    return server_->stub().UnloadModel(&ctx, unload, out);
  }
  HealthCheckResponse::ServingStatus Health(const std::string& service) {
    auto health = grpc::health::v1::Health::NewStub(server_->channel());
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status status = health->Check(&ctx, request, &response);
    return status.ok() ? response.status() : HealthCheckResponse::SERVICE_UNKNOWN;
  }
  std::string AdaptOn(const std::string& backbone) {
    grpc::ClientContext ctx;
    v1::AdaptResponse response;
    grpc::Status status =
        server_->stub().Adapt(&ctx, AdaptRequest(backbone, 3, 2, v1::PROTOTYPE), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.adapter().adapter_id();
  }
  grpc::Status PredictOn(const std::string& adapter_id) {
    grpc::ClientContext ctx;
    v1::PredictRequest request;
    request.set_adapter_id(adapter_id);
    *request.add_inputs() = TensorInput(1, 5);
    v1::PredictResponse response;
    return server_->stub().Predict(&ctx, request, &response);
  }

  std::string repo_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(ModelControlTest, ABrokenFolderIsReportedWhileTheOthersServe) {
  EXPECT_EQ(BackboneNames(), (std::vector<std::string>{"a", "b"}));
  const v1::ModelStatus broken = Status("broken");
  EXPECT_EQ(broken.state(), v1::ModelStatus::FAILED);
  EXPECT_THAT(broken.message(), HasSubstr("backbone_file"));
  EXPECT_EQ(Status("a").state(), v1::ModelStatus::READY);
  EXPECT_THAT(Status("a").fingerprint(), ::testing::StartsWith("sha256:"));
  const v1::ListBackbonesResponse list = List();
  EXPECT_EQ(list.backbones(0).fingerprint(), Status("a").fingerprint());
  EXPECT_EQ(Health("backbone/a"), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health("backbone/broken"), HealthCheckResponse::SERVICE_UNKNOWN);
  EXPECT_TRUE(PredictOn(AdaptOn("b")).ok());

  // Loading it again fails the same way, naming the folder and the field.
  v1::ModelStatus status;
  grpc::Status load = Control("load", "broken", &status);
  EXPECT_EQ(load.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(load.error_message(), HasSubstr("model \"broken\""));
  EXPECT_THAT(load.error_message(), HasSubstr("backbone_file"));
  EXPECT_EQ(BackboneNames(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(ModelControlTest, LoadUnloadAndReloadByFolderName) {
  const std::string adapter = AdaptOn("a");
  v1::ModelStatus status;
  ASSERT_TRUE(Control("unload", "a", &status).ok());
  EXPECT_EQ(status.state(), v1::ModelStatus::UNLOADED);
  EXPECT_EQ(BackboneNames(), std::vector<std::string>{"b"});
  EXPECT_EQ(Health("backbone/a"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(PredictOn(adapter).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Control("unload", "a", &status).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Control("reload", "a", &status).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // A new folder, and the unloaded one again: adapters fitted before serve.
  WriteTinyConv4Model(repo_ + "/c", "c", /*with_meta=*/false, /*seed=*/11);
  ASSERT_TRUE(Control("load", "c", &status).ok());
  EXPECT_EQ(status.backbone(), "c");
  ASSERT_TRUE(Control("load", "a", &status).ok());
  EXPECT_EQ(status.state(), v1::ModelStatus::READY);
  EXPECT_EQ(BackboneNames(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Health("backbone/a"), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health("backbone/c"), HealthCheckResponse::SERVING);
  EXPECT_TRUE(PredictOn(adapter).ok());

  // Reload onto other weights: the adapter fitted on the old ones is refused.
  WriteTinyConv4Model(repo_ + "/a", "a", /*with_meta=*/false, /*seed=*/13);
  ASSERT_TRUE(Control("reload", "a", &status).ok());
  grpc::Status stale = PredictOn(adapter);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(stale.error_message(), HasSubstr("call Adapt again"));
  EXPECT_THAT(server_->server().ScrapeText(),
              HasSubstr("adaptd_stale_adapters_total{backbone=\"a\"} 1"));
  EXPECT_TRUE(PredictOn(AdaptOn("a")).ok());

  EXPECT_EQ(Control("load", "../a", &status).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Control("load", "", &status).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Control("load", "nope", &status).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ModelControlTest, AFailedReloadKeepsThePreviousVersionServing) {
  const std::string adapter = AdaptOn("a");
  fs::remove(repo_ + "/a/backbone.pt");
  v1::ModelStatus status;
  EXPECT_FALSE(Control("reload", "a", &status).ok());
  const v1::ModelStatus a = Status("a");
  EXPECT_EQ(a.state(), v1::ModelStatus::READY);
  EXPECT_THAT(a.message(), HasSubstr("reload failed"));
  EXPECT_EQ(Health("backbone/a"), HealthCheckResponse::SERVING);
  EXPECT_TRUE(PredictOn(adapter).ok());
}

TEST_F(ModelControlTest, RollingReloadUnderPredictLoadFailsNoRequest) {
  const std::string adapter = AdaptOn("a");
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      while (!stop.load()) {
        grpc::Status status = PredictOn(adapter);
        (status.ok() ? ok : failed).fetch_add(1);
        if (!status.ok()) ADD_FAILURE() << status.error_message();
      }
    });
  }
  // Each reload swaps in a new backbone (its version label changes, its
  // weights do not, so the adapter stays valid) while Predicts run.
  const std::string config = ReadFile(repo_ + "/a/model.pbtxt").value();
  for (int i = 0; i < 5; ++i) {
    const int before = ok.load();
    ASSERT_TRUE(WriteFileAtomically(repo_ + "/a/model.pbtxt",
                                    absl::StrCat(config, "\nversion: \"r", i, "\"\n"))
                    .ok());
    v1::ModelStatus status;
    grpc::Status reload = Control("reload", "a", &status);
    ASSERT_TRUE(reload.ok()) << reload.error_message();
    EXPECT_EQ(status.version(), absl::StrCat("r", i));
    // Requests keep being answered between reloads.
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (ok.load() < before + 4 && absl::Now() < deadline) std::this_thread::yield();
  }
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 20);
  const v1::ListBackbonesResponse list = List();
  EXPECT_EQ(list.backbones(0).version(), "r4");
}

// Whether `engine` serves exactly `names`, waited for until a deadline.
bool EventuallyServes(engine::Engine& engine, const std::vector<std::string>& names) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    std::vector<std::string> served;
    for (const auto& info : engine.ListBackbones()) served.push_back(info.name);
    if (served == names) return true;
    std::this_thread::yield();
  }
  return false;
}

TEST(ModelPollingTest, PollingLoadsNewFoldersAndUnloadsRemovedOnes) {
  const std::string repo = MakeTempDir("adaptd_model_poll");
  WriteTinyConv4Model(repo + "/a", "a", /*with_meta=*/false);
  engine::Engine::Options options;
  options.model_repository = repo;
  options.device = "cpu";
  options.intra_op_threads = 1;
  options.model_poll_interval = absl::Milliseconds(20);
  auto engine = engine::Engine::Create(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  WriteTinyConv4Model(repo + "/b", "b", /*with_meta=*/false);
  EXPECT_TRUE(EventuallyServes(**engine, {"a", "b"}));
  fs::remove_all(repo + "/a");
  EXPECT_TRUE(EventuallyServes(**engine, {"b"}));
  engine->reset();
  fs::remove_all(repo);
}

}  // namespace
}  // namespace adaptd::testing
