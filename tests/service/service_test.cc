// adaptd through its gRPC API: an in-process server on port 0, called
// through the generated stub.
#include <atomic>
#include <cstdio>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/test_util/http_get.h"
#include "tests/test_util/test_server.h"

namespace adaptd::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

grpc::Status Call(TestServer& server, const v1::AdaptRequest& request, v1::AdaptResponse* response) {
  grpc::ClientContext ctx;
  return server.stub().Adapt(&ctx, request, response);
}

grpc::Status Call(TestServer& server, const v1::PredictRequest& request,
                  v1::PredictResponse* response) {
  grpc::ClientContext ctx;
  return server.stub().Predict(&ctx, request, response);
}

std::string MustAdapt(TestServer& server, const v1::AdaptRequest& request) {
  v1::AdaptResponse response;
  grpc::Status status = Call(server, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.adapter().adapter_id();
}

// Predicts held-out instances 10.. of classes [first, first+ways); returns
// the number correct.
int CorrectPredictions(TestServer& server, const std::string& adapter_id, int ways, int first = 0) {
  v1::PredictRequest request;
  request.set_adapter_id(adapter_id);
  for (int c = first; c < first + ways; ++c) *request.add_inputs() = TensorInput(c, 10 + c % 3);
  v1::PredictResponse response;
  grpc::Status status = Call(server, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  int correct = 0;
  for (int i = 0; i < response.predictions_size(); ++i) {
    correct += response.predictions(i).label() == absl::StrCat("c", first + i);
  }
  return correct;
}

// The value of the sample `series` (name{labels} exactly as exposed), or -1.
double Sample(const std::string& text, const std::string& series) {
  size_t pos = 0;
  while ((pos = text.find(series + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') return std::stod(text.substr(pos + series.size() + 1));
    pos += series.size();
  }
  return -1;
}

class ServiceTest : public ::testing::Test {
 protected:
  TestServer server_;
};

TEST_F(ServiceTest, ListBackbonesReportsShapesMethodsAndPreprocessing) {
  grpc::ClientContext ctx;
  v1::ListBackbonesResponse response;
  ASSERT_TRUE(server_.stub().ListBackbones(&ctx, {}, &response).ok());
  ASSERT_EQ(response.backbones_size(), 2);
  const auto& plain = response.backbones(0);
  const auto& tiny = response.backbones(1);
  EXPECT_EQ(plain.name(), "plain");
  EXPECT_EQ(tiny.name(), "tiny");
  EXPECT_THAT(tiny.input_shape(), ElementsAre(1, 28, 28));
  EXPECT_EQ(tiny.feature_dim(), 64);
  EXPECT_EQ(tiny.device(), "cpu");
  EXPECT_THAT(tiny.methods(), ElementsAre(v1::PROTOTYPE, v1::FINETUNE, v1::META));
  EXPECT_THAT(plain.methods(), ElementsAre(v1::PROTOTYPE, v1::FINETUNE));
  EXPECT_EQ(tiny.default_method(), v1::META);
  EXPECT_THAT(tiny.preprocessing().mean(), ElementsAre(0.5f));
  EXPECT_THAT(tiny.preprocessing().std(), ElementsAre(0.5f));
  EXPECT_GT(tiny.parameters(), 0);
}

TEST_F(ServiceTest, AdaptPredictGetListDelete) {
  auto request = AdaptRequest("tiny", 4, 3, v1::FINETUNE);
  *request.mutable_ttl() = google::protobuf::Duration();
  request.mutable_ttl()->set_seconds(600);
  v1::AdaptResponse adapted;
  ASSERT_TRUE(Call(server_, request, &adapted).ok());
  const v1::Adapter& adapter = adapted.adapter();
  EXPECT_THAT(adapter.adapter_id(), ::testing::StartsWith("ad_"));
  EXPECT_EQ(adapter.backbone(), "tiny");
  EXPECT_EQ(adapter.method(), v1::FINETUNE);
  EXPECT_THAT(adapter.labels(), ElementsAre("c0", "c1", "c2", "c3"));
  EXPECT_EQ(adapter.support_size(), 12);
  EXPECT_EQ(adapter.expire_time().seconds() - adapter.create_time().seconds(), 600);
  EXPECT_EQ(adapter.stats().steps(), 5);
  EXPECT_GT(adapter.stats().adapt_seconds(), 0);
  EXPECT_GT(adapter.stats().support_loss_before(), adapter.stats().support_loss_after());
  EXPECT_EQ(adapter.stats().device(), "cpu");

  // PNG and tensor inputs in one Predict.
  v1::PredictRequest predict;
  predict.set_adapter_id(adapter.adapter_id());
  *predict.add_inputs() = PngInput(2, 20);
  *predict.add_inputs() = TensorInput(1, 21);
  predict.set_top_k(2);
  v1::PredictResponse predicted;
  ASSERT_TRUE(Call(server_, predict, &predicted).ok());
  ASSERT_EQ(predicted.predictions_size(), 2);
  EXPECT_EQ(predicted.predictions(0).label(), "c2");
  EXPECT_EQ(predicted.predictions(1).label(), "c1");
  EXPECT_EQ(predicted.predictions(0).scores_size(), 2);
  EXPECT_GT(predicted.predictions(0).probability(), 0.25);

  grpc::ClientContext get_ctx;
  v1::GetAdapterRequest get;
  get.set_adapter_id(adapter.adapter_id());
  v1::Adapter got;
  ASSERT_TRUE(server_.stub().GetAdapter(&get_ctx, get, &got).ok());
  EXPECT_EQ(got.adapter_id(), adapter.adapter_id());
  EXPECT_EQ(got.stats().steps(), 5);

  MustAdapt(server_, AdaptRequest("plain", 2, 2, v1::PROTOTYPE));
  MustAdapt(server_, AdaptRequest("plain", 2, 2, v1::PROTOTYPE));
  std::vector<std::string> listed;
  std::string token;
  do {
    grpc::ClientContext list_ctx;
    v1::ListAdaptersRequest list;
    list.set_page_size(2);
    list.set_page_token(token);
    v1::ListAdaptersResponse page;
    ASSERT_TRUE(server_.stub().ListAdapters(&list_ctx, list, &page).ok());
    EXPECT_LE(page.adapters_size(), 2);
    for (const auto& a : page.adapters()) listed.push_back(a.adapter_id());
    token = page.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(listed.size(), 3u);
  {
    grpc::ClientContext list_ctx;
    v1::ListAdaptersRequest list;
    list.set_backbone("tiny");
    v1::ListAdaptersResponse page;
    ASSERT_TRUE(server_.stub().ListAdapters(&list_ctx, list, &page).ok());
    ASSERT_EQ(page.adapters_size(), 1);
    EXPECT_EQ(page.adapters(0).adapter_id(), adapter.adapter_id());
  }

  grpc::ClientContext delete_ctx;
  v1::DeleteAdapterRequest del;
  del.set_adapter_id(adapter.adapter_id());
  google::protobuf::Empty empty;
  ASSERT_TRUE(server_.stub().DeleteAdapter(&delete_ctx, del, &empty).ok());
  v1::PredictResponse after;
  grpc::Status status = Call(server_, predict, &after);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("adapter_id"));
}

TEST_F(ServiceTest, BadInputGetsClearStatusAndTheServerKeepsServing) {
  const std::string kept = MustAdapt(server_, AdaptRequest("plain", 3, 2, v1::PROTOTYPE));
  ASSERT_FALSE(kept.empty());
  const int baseline = CorrectPredictions(server_, kept, 3);

  struct Case {
    std::string name;
    std::function<void(v1::AdaptRequest&)> mutate;
    grpc::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"empty support", [](auto& r) { r.clear_support(); }, grpc::INVALID_ARGUMENT,
       "support: is empty"},
      {"one class", [](auto& r) { r = AdaptRequest("plain", 1, 3, v1::PROTOTYPE); },
       grpc::INVALID_ARGUMENT, "support: needs at least 2 distinct labels, got 1"},
      {"too many classes", [](auto& r) { r = AdaptRequest("plain", 11, 1, v1::PROTOTYPE); },
       grpc::INVALID_ARGUMENT, "support: more than 10 distinct labels"},
      {"too many examples", [](auto& r) { r = AdaptRequest("plain", 2, 51, v1::PROTOTYPE); },
       grpc::INVALID_ARGUMENT, "support: 102 examples exceeds the limit of 100"},
      {"empty label", [](auto& r) { r.mutable_support(1)->set_label(""); }, grpc::INVALID_ARGUMENT,
       "support[1].label: is empty"},
      {"wrong shape",
       [](auto& r) { r.mutable_support(3)->mutable_input()->mutable_tensor()->set_shape(0, 3); },
       grpc::INVALID_ARGUMENT, "support[3].input.tensor: expected shape [1,28,28], got [3,28,28]"},
      {"unsupported dtype",
       [](auto& r) { r.mutable_support(0)->mutable_input()->mutable_tensor()->set_dtype(v1::DTYPE_UNSPECIFIED); },
       grpc::INVALID_ARGUMENT, "support[0].input.tensor.dtype: unsupported dtype 0"},
      {"short data",
       [](auto& r) { r.mutable_support(2)->mutable_input()->mutable_tensor()->set_data("abc"); },
       grpc::INVALID_ARGUMENT, "support[2].input.tensor.data: expected 784 bytes"},
      {"overflowing dims",
       [](auto& r) {
         auto* t = r.mutable_support(0)->mutable_input()->mutable_tensor();
         t->clear_shape();
         for (int i = 0; i < 4; ++i) t->add_shape(int64_t{1} << 20);
       },
       grpc::INVALID_ARGUMENT, "support[0].input.tensor.shape"},
      {"NaN",
       [](auto& r) {
         auto* t = r.mutable_support(1)->mutable_input()->mutable_tensor();
         t->set_dtype(v1::FLOAT32);
         std::vector<float> values(784, 0.f);
         values[5] = std::nanf("");
         t->set_data(std::string(reinterpret_cast<const char*>(values.data()), 784 * 4));
       },
       grpc::INVALID_ARGUMENT, "support[1].input.tensor.data: element 5 is NaN"},
      {"corrupt image",
       [](auto& r) { r.mutable_support(2)->mutable_input()->set_image("\x89PNG\r\n\x1a\nbroken"); },
       grpc::INVALID_ARGUMENT, "support[2].input.image:"},
      {"missing input", [](auto& r) { r.mutable_support(0)->clear_input(); },
       grpc::INVALID_ARGUMENT, "support[0].input: is empty"},
      {"unknown backbone", [](auto& r) { r.set_backbone("resnet-9000"); }, grpc::NOT_FOUND,
       "backbone: unknown backbone \"resnet-9000\""},
      {"META without meta-learner", [](auto& r) { r.set_method(v1::META); },
       grpc::FAILED_PRECONDITION, "has no meta-learner"},
      {"negative steps", [](auto& r) { r.set_steps(-3); }, grpc::INVALID_ARGUMENT,
       "steps: must be in [0, 500], got -3"},
  };
  for (const auto& c : cases) {
    auto request = AdaptRequest("plain", 3, 2, v1::PROTOTYPE);
    c.mutate(request);
    v1::AdaptResponse response;
    grpc::Status status = Call(server_, request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
  }

  // Predict errors.
  v1::PredictRequest empty;
  empty.set_adapter_id(kept);
  v1::PredictResponse response;
  grpc::Status status = Call(server_, empty, &response);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "inputs: is empty");
  v1::PredictRequest unknown;
  unknown.set_adapter_id("ad_doesnotexist");
  *unknown.add_inputs() = TensorInput(0, 0);
  status = Call(server_, unknown, &response);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  v1::PredictRequest bad_input;
  bad_input.set_adapter_id(kept);
  *bad_input.add_inputs() = TensorInput(0, 0);
  bad_input.add_inputs()->set_image("");
  status = Call(server_, bad_input, &response);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("inputs[1]"));

  grpc::ClientContext get_ctx;
  v1::GetAdapterRequest get;
  v1::Adapter adapter;
  status = server_.stub().GetAdapter(&get_ctx, get, &adapter);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "adapter_id: is empty");

  // Still serving, and the stored adapter answers as before.
  EXPECT_EQ(CorrectPredictions(server_, kept, 3), baseline);
  EXPECT_EQ(server_.server().engine().store_info().adapters, 1);
}

TEST(ServiceLimitsTest, OversizedMessageIsResourceExhausted) {
  TestServerOptions options;
  options.max_message_bytes = 1 << 20;
  TestServer server(options);
  auto request = AdaptRequest("plain", 2, 2, v1::PROTOTYPE);
  request.mutable_support(0)->mutable_input()->set_image(std::string(2 << 20, 'x'));
  v1::AdaptResponse response;
  grpc::Status status = Call(server, request, &response);
  EXPECT_EQ(status.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_FALSE(MustAdapt(server, AdaptRequest("plain", 2, 2, v1::PROTOTYPE)).empty());
}

TEST_F(ServiceTest, PassedDeadlineIsDeadlineExceeded) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
  v1::AdaptResponse response;
  grpc::Status status = server_.stub().Adapt(&ctx, AdaptRequest("plain", 2, 2, v1::PROTOTYPE), &response);
  EXPECT_EQ(status.error_code(), grpc::DEADLINE_EXCEEDED);
}

TEST_F(ServiceTest, HealthIsServing) {
  auto health = grpc::health::v1::Health::NewStub(server_.channel());
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&ctx, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(ServiceMetricsTest, MetricsAreScrapedOverHttpAndMove) {
  TestServerOptions options;
  options.metrics_http = true;
  TestServer server_(options);
  const int port = server_.server().metrics_port();
  ASSERT_GT(port, 0);
  auto before = HttpGet(port, "/metrics");
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(Sample(*before, "adaptd_requests_total{code=\"OK\",rpc=\"Adapt\"}"), -1);
  EXPECT_EQ(Sample(*before, "adaptd_adapter_evictions_total{reason=\"ttl\"}"), 0);
  EXPECT_EQ(Sample(*before, "adaptd_adapter_memory_bytes"), 0);

  const std::string id = MustAdapt(server_, AdaptRequest("tiny", 3, 2, v1::META));
  MustAdapt(server_, AdaptRequest("tiny", 3, 2, v1::PROTOTYPE));
  CorrectPredictions(server_, id, 3);
  v1::AdaptResponse ignored;
  Call(server_, AdaptRequest("nope", 2, 2, v1::PROTOTYPE), &ignored);

  auto after = HttpGet(port, "/metrics");
  ASSERT_TRUE(after.ok()) << after.status();
  const std::string& text = *after;
  EXPECT_EQ(Sample(text, "adaptd_requests_total{code=\"OK\",rpc=\"Adapt\"}"), 2);
  EXPECT_EQ(Sample(text, "adaptd_requests_total{code=\"NOT_FOUND\",rpc=\"Adapt\"}"), 1);
  EXPECT_EQ(Sample(text, "adaptd_requests_total{code=\"OK\",rpc=\"Predict\"}"), 1);
  EXPECT_EQ(Sample(text, "adaptd_adapt_duration_seconds_count{backbone=\"tiny\",method=\"META\"}"), 1);
  EXPECT_EQ(Sample(text, "adaptd_adapt_duration_seconds_count{backbone=\"tiny\",method=\"PROTOTYPE\"}"), 1);
  EXPECT_EQ(Sample(text, "adaptd_predict_duration_seconds_count{backbone=\"tiny\"}"), 1);
  EXPECT_EQ(Sample(text, "adaptd_adapt_loss_reduction_ratio_count{backbone=\"tiny\",method=\"META\"}"), 1);
  EXPECT_EQ(Sample(text, "adaptd_adapters{backbone=\"tiny\"}"), 2);
  EXPECT_EQ(Sample(text, "adaptd_adapters{backbone=\"plain\"}"), 0);
  EXPECT_GT(Sample(text, "adaptd_adapter_memory_bytes"), 2 * 3 * 64 * 4);
  EXPECT_GT(Sample(text, "adaptd_compute_seconds_total{device=\"cpu\",rpc=\"Adapt\"}"), 0);
  EXPECT_GT(Sample(text, "adaptd_compute_seconds_total{device=\"cpu\",rpc=\"Predict\"}"), 0);
  EXPECT_GT(Sample(text, "adaptd_backbone_memory_bytes{backbone=\"tiny\",device=\"cpu\"}"), 0);
  EXPECT_GE(Sample(text, "adaptd_batch_size_count{backbone=\"tiny\"}"), 1);
  EXPECT_GE(Sample(text, "adaptd_queue_duration_seconds_count{backbone=\"tiny\"}"), 3);
  EXPECT_EQ(Sample(text, "adaptd_queue_depth{backbone=\"tiny\"}"), 0);
  EXPECT_GT(Sample(text, "process_cpu_seconds_total"), 0);
  EXPECT_GT(Sample(text, "process_resident_memory_bytes"), 0);
  // No NVML here: the GPU gauges are absent.
  EXPECT_EQ(text.find("adaptd_gpu_"), std::string::npos);

#ifdef ADAPTD_PROMTOOL
  // promtool reads the exposition from stdin.
  const std::string path = ::testing::TempDir() + "/metrics.txt";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  const std::string command = std::string(ADAPTD_PROMTOOL) + " check metrics < " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe)) output += buffer;
  EXPECT_EQ(pclose(pipe), 0) << output;
#endif
}

TEST(ServiceNvmlTest, FakeNvmlFeedsTheGpuGauges) {
  TestServerOptions options;
  options.nvml_library = ADAPTD_FAKE_NVML;
  TestServer server(options);
  const std::string text = server.server().ScrapeText();
  EXPECT_DOUBLE_EQ(Sample(text, "adaptd_gpu_utilization_ratio{gpu=\"0\"}"), 0.42);
  EXPECT_DOUBLE_EQ(Sample(text, "adaptd_gpu_utilization_ratio{gpu=\"1\"}"), 0.07);
  EXPECT_DOUBLE_EQ(Sample(text, "adaptd_gpu_memory_used_bytes{gpu=\"1\"}"), 3.0 * (1 << 30));
  EXPECT_DOUBLE_EQ(Sample(text, "adaptd_gpu_memory_total_bytes{gpu=\"0\"}"), 80.0 * (1 << 30));
  EXPECT_DOUBLE_EQ(Sample(text, "adaptd_gpu_power_watts{gpu=\"0\"}"), 123.5);
}

TEST_F(ServiceTest, ConcurrentAdaptPredictDeleteLoseNothing) {
  constexpr int kThreads = 6;
  constexpr int kRounds = 6;
  std::atomic<int> failures{0};
  std::vector<std::vector<std::string>> kept(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        const int first = (t + round) % 6;
        const std::string id = MustAdapt(server_, AdaptRequest("plain", 3, 2, v1::PROTOTYPE, first));
        if (id.empty() || CorrectPredictions(server_, id, 3, first) < 2) ++failures;
        if (round % 2 == 0) {
          grpc::ClientContext ctx;
          v1::DeleteAdapterRequest del;
          del.set_adapter_id(id);
          google::protobuf::Empty empty;
          if (!server_.stub().DeleteAdapter(&ctx, del, &empty).ok()) ++failures;
        } else {
          kept[t].push_back(id);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server_.server().engine().store_info().adapters, kThreads * kRounds / 2);
  for (const auto& ids : kept) {
    for (const auto& id : ids) {
      grpc::ClientContext ctx;
      v1::GetAdapterRequest get;
      get.set_adapter_id(id);
      v1::Adapter adapter;
      EXPECT_TRUE(server_.stub().GetAdapter(&ctx, get, &adapter).ok()) << id;
    }
  }
}

}  // namespace
}  // namespace adaptd::testing
