// Logs: the logger's lines (JSON or text, escaping, levels) and, through the
// gRPC API, request ids and the access log. Every line is parsed as JSON.
#include "server/common/log.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "server/service/access_log.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/test_server.h"

namespace adaptd::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using json = nlohmann::json;

// The lines a Logger hands to its sink.
class CapturedLog {
 public:
  Logger::Options Options(LogFormat format = LogFormat::kJson) {
    Logger::Options options;
    options.format = format;
    options.sink = [this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    };
    return options;
  }

  // Each line as written, newline included.
  std::vector<std::string> lines() const {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

  // Every line parsed; a line that is not one JSON object ending in one
  // newline fails the test.
  std::vector<json> Parsed() const {
    std::vector<json> parsed;
    for (const std::string& line : lines()) {
      EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
      json value = json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_TRUE(value.is_object()) << line;
      if (value.is_object()) parsed.push_back(std::move(value));
    }
    return parsed;
  }

  // The access log's lines.
  std::vector<json> AccessLines() const {
    std::vector<json> access;
    for (json& line : Parsed()) {
      if (line.value("message", "") == "rpc") access.push_back(std::move(line));
    }
    return access;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

TEST(LoggerTest, JsonLineHasTimeLevelMessageAndTypedFields) {
  FakeClock clock(absl::FromUnixMicros(1700000000123456));
  CapturedLog log;
  Logger::Options options = log.Options();
  options.clock = &clock;
  Logger logger(options);
  logger.Warning("disk nearly full",
                 {{"path", "/var/adaptd"},
                  {"free_bytes", int64_t{-5}},
                  {"limit", std::numeric_limits<uint64_t>::max()},
                  {"ratio", 0.25},
                  {"not_a_number", std::nan("")},
                  {"durable", true}});
  const std::vector<json> lines = log.Parsed();
  ASSERT_EQ(lines.size(), 1u);
  const json& line = lines[0];
  EXPECT_EQ(line["time"], "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(line["level"], "warning");
  EXPECT_EQ(line["message"], "disk nearly full");
  EXPECT_EQ(line["path"], "/var/adaptd");
  EXPECT_EQ(line["free_bytes"], -5);
  EXPECT_EQ(line["limit"].get<uint64_t>(), std::numeric_limits<uint64_t>::max());
  EXPECT_DOUBLE_EQ(line["ratio"].get<double>(), 0.25);
  EXPECT_TRUE(line["not_a_number"].is_null());
  EXPECT_EQ(line["durable"], true);
}

TEST(LoggerTest, EscapesQuotesControlCharactersAndInvalidUtf8) {
  CapturedLog log;
  Logger logger(log.Options());
  const std::string nasty = std::string("say \"hi\" \\ new\nline\ttab\rcr nul") + '\0' +
                            "bell\x07 del\x7f";
  const std::string valid_utf8 = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // café € 😀
  // A stray byte, a truncated sequence, an overlong '/', a surrogate and a
  // code point past U+10FFFF.
  const std::string invalid = "a\xFF" "b\xE2\x82" "c\xC0\xAF" "d\xED\xA0\x80" "e\xF4\x90\x80\x80";
  const std::string fffd = "\xEF\xBF\xBD";
  logger.Info(nasty, {{"valid", valid_utf8}, {"invalid", invalid}, {"key \"quoted\"", 1}});

  const std::vector<json> lines = log.Parsed();
  ASSERT_EQ(lines.size(), 1u) << absl::StrJoin(log.lines(), "");
  EXPECT_EQ(lines[0]["message"], nasty);
  EXPECT_EQ(lines[0]["valid"], valid_utf8);
  EXPECT_EQ(lines[0]["invalid"], absl::StrCat("a", fffd, "b", fffd, fffd, "c", fffd, fffd, "d",
                                              fffd, fffd, fffd, "e", fffd, fffd, fffd, fffd));
  EXPECT_EQ(lines[0]["key \"quoted\""], 1);
}

TEST(LoggerTest, FieldsNeverRepeatTheLinesOwnKeys) {
  CapturedLog log;
  Logger logger(log.Options());
  logger.Info("model status", {{"message", "loaded"}, {"level", 3}, {"time", "now"}});
  ASSERT_EQ(log.lines().size(), 1u);
  const std::string raw = log.lines()[0];
  EXPECT_EQ(raw.find("\"message\""), raw.rfind("\"message\"")) << raw;
  const std::vector<json> lines = log.Parsed();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["message"], "model status");
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["field_message"], "loaded");
  EXPECT_EQ(lines[0]["field_level"], 3);
  EXPECT_EQ(lines[0]["field_time"], "now");
}

TEST(LoggerTest, TextFormatIsOneReadableLine) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  CapturedLog log;
  Logger::Options options = log.Options(LogFormat::kText);
  options.clock = &clock;
  Logger logger(options);
  logger.Error("cannot open \"models\"\nat all",
               {{"folder", "/srv/models"}, {"reason", "two words"}, {"empty", ""}, {"n", 3}});
  EXPECT_THAT(log.lines(),
              ::testing::ElementsAre("2023-11-14T22:13:20.000000Z ERROR cannot open \"models\"\\nat "
                                     "all folder=/srv/models reason=\"two words\" empty=\"\" n=3\n"));
}

TEST(LoggerTest, DropsLinesBelowItsLevel) {
  CapturedLog log;
  Logger::Options options = log.Options();
  options.min_level = LogLevel::kWarning;
  Logger logger(options);
  EXPECT_FALSE(logger.Enabled(LogLevel::kInfo));
  logger.Info("dropped");
  logger.Error("kept");
  options.min_level = LogLevel::kDebug;
  logger.Configure(options);
  logger.Debug("kept too");
  const std::vector<json> lines = log.Parsed();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["level"], "error");
  EXPECT_EQ(lines[1]["level"], "debug");
}

TEST(LoggerTest, ParsesFlagValues) {
  EXPECT_EQ(*ParseLogLevel("WARN"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_THAT(std::string(ParseLogLevel("loud").status().message()), HasSubstr("log_level"));
  EXPECT_THAT(std::string(ParseLogFormat("xml").status().message()), HasSubstr("log_format"));
}

TEST(LoggerTest, LinesFromManyThreadsStayWhole) {
  CapturedLog log;
  Logger logger(log.Options());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&logger, t] {
      for (int i = 0; i < 200; ++i) logger.Info("tick", {{"thread", t}, {"i", i}});
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(log.Parsed().size(), 800u);
}

constexpr char kToken[] = "tok-7f3a9c-secret";
constexpr char kWrongToken[] = "tok-wrong-1e2d";
// What the inputs carry; never to be logged.
constexpr char kPixelMarker[] = "PIXELMARKER-";
constexpr char kTextMarker[] = "TEXTMARKER private sentence";
constexpr char kImageMarker[] = "IMAGEMARKER-not-a-png";

// An adaptd with auth on, logging into a CapturedLog.
class AccessLogTest : public ::testing::Test {
 protected:
  AccessLogTest() : dir_(MakeTempDir("log_test")) {
    std::ofstream(dir_ + "/tokens") << kToken << " alice\n";
  }
  ~AccessLogTest() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Start(bool enabled, double sample) {
    logger_ = std::make_unique<Logger>(log_.Options());
    TestServerOptions options;
    options.auth_token_file = dir_ + "/tokens";
    options.logger = logger_.get();
    options.access_log.enabled = enabled;
    options.access_log.sample = sample;
    server_ = std::make_unique<TestServer>(options);
  }

  // A context with the token and, unless empty, an x-request-id.
  static void Prepare(grpc::ClientContext* ctx, const std::string& request_id,
                      const std::string& token = kToken) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    if (!request_id.empty()) ctx->AddMetadata(service::kRequestIdMetadata, request_id);
  }

  static std::string EchoedRequestId(const grpc::ClientContext& ctx) {
    const auto& metadata = ctx.GetServerInitialMetadata();
    auto it = metadata.find(service::kRequestIdMetadata);
    return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
  }

  grpc::Status ListBackbones(const std::string& request_id, std::string* echoed = nullptr,
                             const std::string& token = kToken) {
    grpc::ClientContext ctx;
    Prepare(&ctx, request_id, token);
    v1::ListBackbonesResponse response;
    grpc::Status status = server_->stub().ListBackbones(&ctx, {}, &response);
    if (echoed != nullptr) *echoed = EchoedRequestId(ctx);
    return status;
  }

  // The access lines with this request id.
  std::vector<json> LinesFor(const std::string& request_id) const {
    std::vector<json> found;
    for (json& line : log_.AccessLines()) {
      if (line.value("request_id", "") == request_id) found.push_back(std::move(line));
    }
    return found;
  }

  std::string dir_;
  CapturedLog log_;
  std::unique_ptr<Logger> logger_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(AccessLogTest, CallersRequestIdIsEchoedAndLoggedWithTheCall) {
  Start(/*enabled=*/true, /*sample=*/1.0);
  std::string echoed;
  ASSERT_TRUE(ListBackbones("req-abc-123", &echoed).ok());
  EXPECT_EQ(echoed, "req-abc-123");

  const std::vector<json> lines = LinesFor("req-abc-123");
  ASSERT_EQ(lines.size(), 1u);
  const json& line = lines[0];
  EXPECT_EQ(line["rpc"], "ListBackbones");
  EXPECT_EQ(line["tenant"], "alice");
  EXPECT_EQ(line["code"], "OK");
  EXPECT_EQ(line["level"], "info");
  ASSERT_TRUE(line["duration_ms"].is_number());
  EXPECT_GE(line["duration_ms"].get<double>(), 0.0);
  EXPECT_THAT(line["peer"].get<std::string>(), HasSubstr("127.0.0.1"));
  EXPECT_FALSE(line.contains("error"));
  EXPECT_TRUE(std::regex_match(line["time"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")))
      << line["time"];
}

TEST_F(AccessLogTest, RequestIdIsGeneratedWhenAbsentOrUnusable) {
  Start(/*enabled=*/true, /*sample=*/1.0);
  std::string first, second, replaced;
  ASSERT_TRUE(ListBackbones("", &first).ok());
  ASSERT_TRUE(ListBackbones("", &second).ok());
  ASSERT_TRUE(ListBackbones(std::string(200, 'x'), &replaced).ok());
  const std::regex generated("[0-9a-f]{32}");
  for (const std::string& id : {first, second, replaced}) {
    EXPECT_TRUE(std::regex_match(id, generated)) << id;
    EXPECT_EQ(LinesFor(id).size(), 1u) << id;
  }
  EXPECT_NE(first, second);
}

TEST_F(AccessLogTest, NeitherTokensNorInputsAreLogged) {
  Start(/*enabled=*/true, /*sample=*/1.0);
  // Adapt and Predict on pixels that spell a marker.
  std::string pixels;
  while (pixels.size() < static_cast<size_t>(kSide * kSide)) pixels += kPixelMarker;
  pixels.resize(kSide * kSide);
  v1::AdaptRequest adapt = AdaptRequest("tiny", 2, 2, v1::PROTOTYPE);
  adapt.mutable_support(0)->mutable_input()->mutable_tensor()->set_data(pixels);
  v1::AdaptResponse adapted;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "adapt-1");
    grpc::Status status = server_->stub().Adapt(&ctx, adapt, &adapted);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  v1::PredictRequest predict;
  predict.set_adapter_id(adapted.adapter().adapter_id());
  predict.add_inputs()->mutable_tensor()->CopyFrom(adapt.support(0).input().tensor());
  v1::PredictResponse predicted;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "predict-ok");
    ASSERT_TRUE(server_->stub().Predict(&ctx, predict, &predicted).ok());
  }
  // Failed calls log their error message: it must not quote the input.
  predict.clear_inputs();
  predict.add_inputs()->set_text(kTextMarker);
  predict.add_inputs()->set_image(kImageMarker);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "predict-bad");
    EXPECT_EQ(server_->stub().Predict(&ctx, predict, &predicted).error_code(),
              grpc::INVALID_ARGUMENT);
  }
  EXPECT_EQ(ListBackbones("wrong-token", nullptr, kWrongToken).error_code(),
            grpc::UNAUTHENTICATED);

  ASSERT_EQ(LinesFor("adapt-1").size(), 1u);
  ASSERT_EQ(LinesFor("predict-ok").size(), 1u);
  ASSERT_EQ(LinesFor("predict-bad").size(), 1u);
  EXPECT_EQ(LinesFor("predict-bad")[0]["code"], "INVALID_ARGUMENT");
  EXPECT_THAT(LinesFor("predict-bad")[0]["error"].get<std::string>(), Not(IsEmpty()));
  const std::vector<json> unauthenticated = LinesFor("wrong-token");
  ASSERT_EQ(unauthenticated.size(), 1u);
  EXPECT_EQ(unauthenticated[0]["code"], "UNAUTHENTICATED");
  EXPECT_EQ(unauthenticated[0]["tenant"], "");

  EXPECT_EQ(log_.Parsed().size(), log_.lines().size());
  for (const std::string& line : log_.lines()) {
    for (const char* secret : {kToken, kWrongToken, "Bearer", kPixelMarker, "TEXTMARKER",
                               "IMAGEMARKER"}) {
      EXPECT_THAT(line, Not(HasSubstr(secret)));
    }
  }
}

TEST_F(AccessLogTest, SampleZeroLogsFailedCallsOnly) {
  Start(/*enabled=*/true, /*sample=*/0.0);
  ASSERT_TRUE(ListBackbones("fine").ok());
  v1::GetAdapterRequest get;
  get.set_adapter_id("no-such-adapter");
  v1::Adapter adapter;
  grpc::ClientContext ctx;
  Prepare(&ctx, "missing");
  ASSERT_EQ(server_->stub().GetAdapter(&ctx, get, &adapter).error_code(), grpc::NOT_FOUND);

  EXPECT_THAT(LinesFor("fine"), IsEmpty());
  const std::vector<json> lines = LinesFor("missing");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["rpc"], "GetAdapter");
  EXPECT_EQ(lines[0]["code"], "NOT_FOUND");
  EXPECT_EQ(lines[0]["level"], "warning");
  EXPECT_EQ(lines[0]["tenant"], "alice");
  EXPECT_EQ(log_.AccessLines().size(), 1u);
}

TEST_F(AccessLogTest, OffLogsNoCallsButStillEchoesRequestIds) {
  Start(/*enabled=*/false, /*sample=*/1.0);
  std::string echoed;
  ASSERT_TRUE(ListBackbones("quiet-1", &echoed).ok());
  EXPECT_EQ(echoed, "quiet-1");
  EXPECT_EQ(ListBackbones("quiet-2", nullptr, kWrongToken).error_code(), grpc::UNAUTHENTICATED);
  EXPECT_THAT(log_.AccessLines(), IsEmpty());
  // The server's own lines still go to the injected logger.
  EXPECT_THAT(log_.Parsed(), Not(IsEmpty()));
}

TEST(AccessLogOptionsTest, SampleMustBeAFraction) {
  service::AccessLogOptions options;
  options.sample = 1.5;
  EXPECT_THAT(std::string(service::ValidateAccessLogOptions(options).message()),
              HasSubstr("access_log_sample"));
  options.sample = 0.0;
  EXPECT_TRUE(service::ValidateAccessLogOptions(options).ok());
}

}  // namespace
}  // namespace adaptd::testing
