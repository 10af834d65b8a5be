// adaptd-bench's library against an in-process adaptd (gRPC) and against the
// engine directly: the counts add up, and errors the server gives are
// counted by their code.
#include "client/bench/bench.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/bench/arrival.h"
#include "client/bench/engine_target.h"
#include "client/bench/faults.h"
#include "client/bench/grpc_target.h"
#include "client/bench/latency_histogram.h"
#include "client/bench/synthetic_inputs.h"
#include "client/bench/workload.h"
#include "server/common/file_util.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/test_server.h"
#include "tests/test_util/text_models.h"

namespace adaptd::bench {
namespace {

using ::testing::HasSubstr;

// Short runs with small tasks: the test server allows at most 10 classes.
BenchOptions ShortRun(Scenario scenario) {
  BenchOptions o;
  o.scenario = scenario;
  o.backbone = "plain";
  o.concurrency = 4;
  o.warmup = absl::ZeroDuration();
  o.duration = absl::Milliseconds(500);
  o.adapters = 8;
  o.ways = 3;
  o.shots = 2;
  o.method = engine::Method::kPrototype;
  return o;
}

int64_t Sum(const std::map<std::string, int64_t>& codes) {
  int64_t n = 0;
  for (const auto& [code, count] : codes) n += count;
  return n;
}

int64_t Code(const Report& r, const std::string& code) {
  auto it = r.codes.find(code);
  return it == r.codes.end() ? 0 : it->second;
}

// Everything that must hold whatever the server answered.
void ExpectConsistent(const Report& r) {
  EXPECT_GT(r.requests, 0);
  EXPECT_EQ(r.ok + r.errors, r.requests);
  EXPECT_EQ(Sum(r.codes), r.requests);
  EXPECT_EQ(Code(r, "OK"), r.ok);
  EXPECT_DOUBLE_EQ(r.throughput, static_cast<double>(r.ok) / r.duration_s);
  EXPECT_EQ(r.latency.count, r.ok);
  EXPECT_LE(r.latency.p50_ms, r.latency.p90_ms);
  EXPECT_LE(r.latency.p90_ms, r.latency.p99_ms);
  EXPECT_LE(r.latency.p99_ms, r.latency.max_ms);
  int64_t requests = 0, ok = 0;
  for (const auto& op : r.ops) {
    EXPECT_EQ(op.ok + op.errors, op.requests) << op.op;
    EXPECT_EQ(Sum(op.codes), op.requests) << op.op;
    EXPECT_EQ(op.latency.count, op.ok) << op.op;
    requests += op.requests;
    ok += op.ok;
  }
  EXPECT_EQ(requests, r.requests);
  EXPECT_EQ(ok, r.ok);
}

class GrpcBenchTest : public ::testing::Test {
 protected:
  std::unique_ptr<Target> NewTarget() {
    return NewGrpcTarget({server_.channel()}, "grpc " + server_.target());
  }
  int64_t StoredAdapters() { return server_.server().engine().store_info().adapters; }

  adaptd::testing::TestServer server_;
};

TEST_F(GrpcBenchTest, PredictCountsAddUpAndAdaptersAreCleanedUp) {
  auto target = NewTarget();
  auto report = RunBenchmark(ShortRun(Scenario::kPredict), *target);
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectConsistent(*report);
  EXPECT_EQ(report->errors, 0) << FormatTable(*report);
  ASSERT_EQ(report->ops.size(), 1u);
  EXPECT_EQ(report->ops[0].op, "predict");
  EXPECT_EQ(report->backbone, "plain");
  EXPECT_EQ(report->load, "closed");
  EXPECT_EQ(StoredAdapters(), 0);
}

TEST_F(GrpcBenchTest, DeletedAdapterFaultIsCountedAsNotFound) {
  BenchOptions o = ShortRun(Scenario::kPredict);
  o.fault = Fault::kNotFound;
  o.fault_fraction = 0.25;
  auto target = NewTarget();
  auto report = RunBenchmark(o, *target);
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectConsistent(*report);
  // No warm-up and a closed loop: every request sent is counted, so the
  // faults are exactly a quarter of them, rounded down.
  EXPECT_EQ(report->faults_injected, report->requests / 4);
  EXPECT_GT(report->faults_injected, 0);
  EXPECT_EQ(Code(*report, "NOT_FOUND"), report->faults_injected) << FormatTable(*report);
  EXPECT_EQ(report->ok, report->requests - report->faults_injected);
  EXPECT_EQ(report->fault_code, "NOT_FOUND");
  EXPECT_THAT(report->error_samples["NOT_FOUND"], HasSubstr("adapter"));
  EXPECT_THAT(FormatTable(*report), HasSubstr("NOT_FOUND"));
  EXPECT_THAT(FormatJson(*report),
              HasSubstr(absl::StrCat("\"NOT_FOUND\":", report->faults_injected)));
}

TEST_F(GrpcBenchTest, MixCountsBothOpsAndTheirFaults) {
  BenchOptions o = ShortRun(Scenario::kMix);
  o.adapt_fraction = 0.3;
  o.fault = Fault::kNotFound;  // Predict: a deleted adapter; Adapt: no such backbone.
  o.fault_fraction = 0.1;
  auto target = NewTarget();
  auto report = RunBenchmark(o, *target);
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectConsistent(*report);
  ASSERT_EQ(report->ops.size(), 2u) << FormatTable(*report);
  EXPECT_EQ(report->faults_injected, report->requests / 10);
  EXPECT_EQ(Code(*report, "NOT_FOUND"), report->faults_injected) << FormatTable(*report);
  EXPECT_EQ(report->errors, report->faults_injected);
  EXPECT_EQ(StoredAdapters(), 0);  // Setup adapters and those the Adapts made.
}

TEST_F(GrpcBenchTest, MalformedInputFaultIsCountedAsInvalidArgument) {
  BenchOptions o = ShortRun(Scenario::kAdapt);
  o.fault = Fault::kInvalidArgument;
  o.fault_fraction = 0.5;
  auto target = NewTarget();
  auto report = RunBenchmark(o, *target);
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectConsistent(*report);
  EXPECT_EQ(report->faults_injected, report->requests / 2);
  EXPECT_EQ(Code(*report, "INVALID_ARGUMENT"), report->faults_injected)
      << FormatTable(*report);
  EXPECT_THAT(report->error_samples["INVALID_ARGUMENT"], HasSubstr("shape"));
}

TEST_F(GrpcBenchTest, OpenLoopSendsOnSchedule) {
  BenchOptions o = ShortRun(Scenario::kPredict);
  o.rate = 200;
  o.arrival = Arrival::kUniform;
  auto target = NewTarget();
  auto report = RunBenchmark(o, *target);
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectConsistent(*report);
  // One request every 5 ms for 500 ms, whatever the server does.
  EXPECT_EQ(report->requests + report->skipped, 100);
  EXPECT_EQ(report->load, "open");
  EXPECT_THAT(FormatJson(*report), HasSubstr("\"load\":\"open\""));
}

TEST_F(GrpcBenchTest, WarmupRequestsAreNotCounted) {
  BenchOptions o = ShortRun(Scenario::kPredict);
  o.rate = 200;
  o.arrival = Arrival::kUniform;
  o.warmup = absl::Milliseconds(250);
  o.duration = absl::Milliseconds(250);
  auto target = NewTarget();
  auto report = RunBenchmark(o, *target);
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectConsistent(*report);
  EXPECT_EQ(report->requests + report->skipped, 50);
}

TEST(GrpcAuthBenchTest, TenantsAreIsolatedUnderLoad) {
  const std::string dir = adaptd::testing::MakeTempDir("bench_tokens");
  const std::string tokens = dir + "/tokens";
  ASSERT_TRUE(WriteFileAtomically(tokens, "tok-acme acme\ntok-globex globex\n").ok());
  adaptd::testing::TestServerOptions server_options;
  server_options.auth_token_file = tokens;
  adaptd::testing::TestServer server(server_options);

  auto target = NewGrpcTarget({server.channel()}, "grpc", {"tok-acme", "tok-globex"});
  EXPECT_EQ(target->tenants(), 2);
  BenchOptions o = ShortRun(Scenario::kPredict);
  o.fault = Fault::kWrongTenant;
  o.fault_fraction = 0.25;
  auto report = RunBenchmark(o, *target);
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectConsistent(*report);
  EXPECT_EQ(report->faults_injected, report->requests / 4);
  EXPECT_EQ(Code(*report, "NOT_FOUND"), report->faults_injected) << FormatTable(*report);
  EXPECT_EQ(report->errors, report->faults_injected);
  EXPECT_EQ(server.server().engine().store_info().adapters, 0);  // Each tenant deleted its own.

  // Without a token every call is refused, and the run does not start.
  auto anonymous = NewGrpcTarget({server.channel()}, "grpc");
  EXPECT_EQ(RunBenchmark(ShortRun(Scenario::kPredict), *anonymous).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(GrpcBenchTest, UnknownBackboneIsRefusedBeforeTheLoad) {
  BenchOptions o = ShortRun(Scenario::kPredict);
  o.backbone = "nonexistent";
  auto target = NewTarget();
  auto report = RunBenchmark(o, *target);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(report.status().message(), HasSubstr("plain"));
}

TEST_F(GrpcBenchTest, ProgressLinesAreReported) {
  BenchOptions o = ShortRun(Scenario::kPredict);
  o.progress_interval = absl::Milliseconds(100);
  std::vector<std::string> lines;  // Called from RunBenchmark's thread only.
  o.progress = [&lines](const std::string& line) { lines.push_back(line); };
  auto target = NewTarget();
  ASSERT_TRUE(RunBenchmark(o, *target).ok());
  EXPECT_THAT(lines, ::testing::Contains(HasSubstr("setup:")));
  EXPECT_THAT(lines, ::testing::Contains(HasSubstr("rps")));
}

TEST(InprocessBenchTest, PredictAndFaultCountsAddUp) {
  EngineTargetOptions options;
  options.engine.model_repository = adaptd::testing::TinyRepository();
  options.engine.device = "cpu";
  options.engine.intra_op_threads = 1;
  options.threads = 4;
  auto target = NewEngineTarget(options);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_THAT((*target)->Describe(), HasSubstr("inprocess"));

  BenchOptions o = ShortRun(Scenario::kPredict);
  o.backbone = "";  // The first one: "plain".
  o.fault = Fault::kNotFound;
  o.fault_fraction = 0.2;
  auto report = RunBenchmark(o, **target);
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectConsistent(*report);
  EXPECT_EQ(report->backbone, "plain");
  EXPECT_EQ(report->faults_injected, report->requests / 5);
  EXPECT_EQ(Code(*report, "NOT_FOUND"), report->faults_injected) << FormatTable(*report);
  EXPECT_EQ(report->ok, report->requests - report->faults_injected);
}

TEST(InprocessBenchTest, AnotherTenantsAdapterIsNotFound) {
  EngineTargetOptions options;
  options.engine.model_repository = adaptd::testing::TinyRepository();
  options.engine.device = "cpu";
  options.engine.intra_op_threads = 1;
  options.threads = 4;
  options.tenants = 3;
  auto target = NewEngineTarget(options);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ((*target)->tenants(), 3);

  BenchOptions o = ShortRun(Scenario::kMix);
  o.adapt_fraction = 0.2;
  o.fault = Fault::kWrongTenant;
  o.fault_fraction = 0.25;
  auto report = RunBenchmark(o, **target);
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectConsistent(*report);
  EXPECT_EQ(report->tenants, 3);
  EXPECT_EQ(report->faults_injected, report->requests / 4);
  EXPECT_EQ(Code(*report, "NOT_FOUND"), report->faults_injected) << FormatTable(*report);
  EXPECT_EQ(report->errors, report->faults_injected);
}

TEST(OptionsTest, BadOptionsAreInvalidArgument) {
  adaptd::testing::TestServer server;
  auto target = NewGrpcTarget({server.channel()}, "grpc");
  BenchOptions o = ShortRun(Scenario::kPredict);
  o.duration = absl::ZeroDuration();
  EXPECT_EQ(RunBenchmark(o, *target).status().code(), absl::StatusCode::kInvalidArgument);
  o = ShortRun(Scenario::kMix);
  o.adapters = 0;
  EXPECT_EQ(RunBenchmark(o, *target).status().code(), absl::StatusCode::kInvalidArgument);
  o = ShortRun(Scenario::kPredict);
  o.fault = Fault::kWrongTenant;  // One tenant: no other tenant to aim at.
  o.fault_fraction = 0.1;
  EXPECT_EQ(RunBenchmark(o, *target).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseTest, NamesRoundTrip) {
  for (Scenario s : {Scenario::kPredict, Scenario::kAdapt, Scenario::kMix}) {
    EXPECT_EQ(*ParseScenario(ScenarioName(s)), s);
  }
  for (Fault f : {Fault::kNone, Fault::kNotFound, Fault::kInvalidArgument}) {
    EXPECT_EQ(*ParseFault(FaultName(f)), f);
  }
  EXPECT_EQ(*ParseArrival("poisson"), Arrival::kPoisson);
  EXPECT_EQ(*ParseArrival("uniform"), Arrival::kUniform);
  EXPECT_EQ(*ParseMethod("META"), engine::Method::kMeta);
  EXPECT_EQ(*ParseMethod(""), engine::Method::kUnspecified);
  EXPECT_FALSE(ParseScenario("train").ok());
  EXPECT_FALSE(ParseMethod("sgd").ok());
}

TEST(FormatJsonTest, EscapesNamesAndWritesNonFiniteFiguresAsNull) {
  Report r;
  r.target = "grpc \"quoted\" C:\\path\n";
  r.backbone = "back\\bone\"";
  r.scenario = "predict";
  r.load = "closed";
  r.throughput = std::nan("");
  r.latency.p99_ms = std::numeric_limits<double>::infinity();
  r.latency.p50_ms = 1.23456789;
  r.codes["OK"] = 3;
  r.error_samples["NOT_FOUND"] = "adapter \"x\\y\" not found";
  OpReport op;
  op.op = "predict";
  op.requests = 3;
  op.ok = 3;
  op.codes["OK"] = 3;
  r.ops.push_back(op);
  const std::string text = FormatJson(r);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const nlohmann::ordered_json json = nlohmann::ordered_json::parse(text);
  EXPECT_EQ(json["target"], r.target);
  EXPECT_EQ(json["backbone"], r.backbone);
  EXPECT_EQ(json["error_samples"]["NOT_FOUND"], r.error_samples["NOT_FOUND"]);
  EXPECT_TRUE(json["throughput"].is_null());
  EXPECT_TRUE(json["latency_ms"]["p99"].is_null());
  EXPECT_DOUBLE_EQ(json["latency_ms"]["p50"].get<double>(), 1.23457);
  EXPECT_EQ(json["ops"][0]["codes"]["OK"], 3);
  // The keys scripts/bench.sh and other readers rely on, in their order.
  std::vector<std::string> keys;
  for (const auto& [key, value] : json.items()) keys.push_back(key);
  EXPECT_THAT(keys, ::testing::ElementsAre(
                        "target", "scenario", "backbone", "load", "concurrency", "rate",
                        "arrival", "adapters", "tenants", "batch", "ways", "shots", "method",
                        "adapt_fraction", "warmup_s", "duration_s", "setup_s",
                        "client_cpu_cores", "requests", "ok", "errors", "throughput",
                        "latency_ms", "codes", "ops", "error_samples", "skipped", "fault",
                        "modality", "text_words"));
  keys.clear();
  for (const auto& [key, value] : json["ops"][0].items()) keys.push_back(key);
  EXPECT_THAT(keys, ::testing::ElementsAre("op", "requests", "ok", "errors", "throughput",
                                           "latency_ms", "codes"));
  keys.clear();
  for (const auto& [key, value] : json["latency_ms"].items()) keys.push_back(key);
  EXPECT_THAT(keys, ::testing::ElementsAre("count", "p50", "p90", "p99", "max", "mean"));
  keys.clear();
  for (const auto& [key, value] : json["fault"].items()) keys.push_back(key);
  EXPECT_THAT(keys, ::testing::ElementsAre("kind", "fraction", "code", "injected"));
}

TEST(FaultInjectorTest, HitsExactlyTheFractionEvenlySpread) {
  const InputPool pool({1, 8, 8}, 2, 1, 1);
  const FaultInjector faults(Fault::kNotFound, 0.1, pool.malformed(), {1, "gone"}, 2);
  int hits = 0;
  for (uint64_t k = 0; k < 1000; ++k) {
    hits += faults.Hits(k);
    if (k % 10 == 9) {
      EXPECT_EQ(hits, static_cast<int>(k + 1) / 10) << k;
    }
  }
  PredictCall call;
  call.adapter_id = "a";
  faults.Spoil(call);
  EXPECT_EQ(call.adapter_id, "gone");
  EXPECT_EQ(call.tenant, 1);
  const FaultInjector none(Fault::kNone, 0.5, pool.malformed(), {}, 1);
  for (uint64_t k = 0; k < 100; ++k) EXPECT_FALSE(none.Hits(k));
}

TEST(ArrivalProcessTest, GapsAverageTheRate) {
  ArrivalProcess uniform(Arrival::kUniform, 100, 1);
  EXPECT_EQ(uniform.NextGap(), absl::Milliseconds(10));
  ArrivalProcess poisson(Arrival::kPoisson, 100, 1);
  absl::Duration total;
  for (int i = 0; i < 10000; ++i) total += poisson.NextGap();
  EXPECT_NEAR(absl::ToDoubleSeconds(total), 100, 5);
}

TEST(WorkloadTest, SameRequestForTheSameSeedAndNumber) {
  BenchOptions o;
  o.scenario = Scenario::kMix;
  o.adapt_fraction = 0.25;
  o.batch = 2;
  const InputPool pool({1, 8, 8}, 10, 3, 1);
  const Workload workload(o, pool, "plain", {"a0", "a1", "a2"}, 3);
  int adapts = 0;
  for (uint64_t k = 0; k < 4000; ++k) adapts += workload.Kind(k) == OpKind::kAdapt;
  EXPECT_NEAR(adapts, 1000, 100);
  const PredictCall call = workload.Predict(7);
  EXPECT_EQ(call.inputs, workload.Predict(7).inputs);
  EXPECT_EQ(call.inputs.size(), 2u);
  EXPECT_EQ(call.adapter_id, absl::StrCat("a", call.tenant));  // Adapter i is tenant i's.
  const AdaptCall adapt = workload.Adapt(7);
  EXPECT_EQ(adapt.backbone, "plain");
  EXPECT_EQ(adapt.support.size(), static_cast<size_t>(o.ways * o.shots));
}

TEST(LatencyHistogramTest, PercentilesWithinHalfAPercent) {
  LatencyHistogram h;
  for (int ms = 1; ms <= 1000; ++ms) h.Record(absl::Milliseconds(ms));
  EXPECT_EQ(h.count(), 1000);
  EXPECT_EQ(h.max(), absl::Milliseconds(1000));
  EXPECT_NEAR(absl::ToDoubleMilliseconds(h.Percentile(50)), 500, 2.5);
  EXPECT_NEAR(absl::ToDoubleMilliseconds(h.Percentile(99)), 990, 5);
  EXPECT_GE(h.Percentile(99), absl::Milliseconds(990));  // Never understated.
  EXPECT_NEAR(absl::ToDoubleMilliseconds(h.mean()), 500.5, 0.01);
  EXPECT_EQ(LatencyHistogram().Percentile(99), absl::ZeroDuration());
}

TEST(SyntheticInputsTest, DeterministicAndClassDependent) {
  const std::vector<int64_t> shape = {1, 28, 28};
  const Input a = SyntheticTensor(shape, 3, 0, 1);
  EXPECT_EQ(a.data.size(), 28u * 28u);
  EXPECT_EQ(a.data, SyntheticTensor(shape, 3, 0, 1).data);
  EXPECT_NE(a.data, SyntheticTensor(shape, 4, 0, 1).data);
  EXPECT_NE(a.data, SyntheticTensor(shape, 3, 1, 1).data);
  InputPool pool({3, 32, 24}, 5, 2, 1);
  EXPECT_EQ(pool.Get(4, 1).data.size(), 3u * 32u * 24u);
  EXPECT_EQ(pool.malformed().shape, (std::vector<int64_t>{3, 32, 25}));
  EXPECT_EQ(pool.malformed().data.size(), 3u * 32u * 25u);
}

TEST(SyntheticInputsTest, TextsAreDeterministicAndClassDependent) {
  const Input a = SyntheticText(3, 0, 12, 1);
  EXPECT_EQ(a.kind, Input::Kind::kText);
  EXPECT_TRUE(a.shape.empty());
  EXPECT_EQ(std::count(a.data.begin(), a.data.end(), ' '), 11) << a.data;  // 12 words.
  EXPECT_EQ(a.data.back(), '.');
  EXPECT_EQ(a.data, SyntheticText(3, 0, 12, 1).data);
  EXPECT_NE(a.data, SyntheticText(4, 0, 12, 1).data);
  EXPECT_NE(a.data, SyntheticText(3, 1, 12, 1).data);
  EXPECT_NE(a.data, SyntheticText(3, 0, 12, 2).data);
  const InputPool pool = InputPool::Texts(5, 2, 30, 1);
  EXPECT_EQ(pool.Get(4, 1).data, SyntheticText(4, 1, 30, 1).data);
  EXPECT_TRUE(pool.shape().empty());
  EXPECT_EQ(pool.malformed().kind, Input::Kind::kText);
  EXPECT_TRUE(pool.malformed().data.empty());  // The server refuses an empty text.
}

// A repository holding the tiny text encoder "words" only, made once.
const std::string& TextRepository() {
  static const std::string* repo = [] {
    auto* dir = new std::string(adaptd::testing::MakeTempDir("bench_text_repo"));
    adaptd::testing::WriteTinyTextModel(*dir + "/words", {});
    return dir;
  }();
  return *repo;
}

BenchOptions TextRun(Scenario scenario) {
  BenchOptions o = ShortRun(scenario);
  o.backbone = "words";
  o.text_words = 20;
  return o;
}

void ExpectTextReport(const Report& r) {
  ExpectConsistent(r);
  EXPECT_EQ(r.errors, 0) << FormatTable(r);
  EXPECT_EQ(r.backbone, "words");
  EXPECT_EQ(r.modality, "text");
  EXPECT_EQ(r.text_words, 20);
  EXPECT_THAT(FormatTable(r), HasSubstr("backbone words (text)"));
  EXPECT_THAT(FormatTable(r), HasSubstr("texts of 20 words"));
  EXPECT_THAT(FormatJson(r), HasSubstr("\"modality\":\"text\",\"text_words\":20}"));
}

class GrpcTextBenchTest : public ::testing::Test {
 protected:
  static adaptd::testing::TestServerOptions Options() {
    adaptd::testing::TestServerOptions options;
    options.model_repository = TextRepository();
    return options;
  }
  std::unique_ptr<Target> NewTarget() {
    return NewGrpcTarget({server_.channel()}, "grpc " + server_.target());
  }

  adaptd::testing::TestServer server_{Options()};
};

TEST_F(GrpcTextBenchTest, AdaptsAndPredictsTexts) {
  auto target = NewTarget();
  auto adapt = RunBenchmark(TextRun(Scenario::kAdapt), *target);
  ASSERT_TRUE(adapt.ok()) << adapt.status();
  ExpectTextReport(*adapt);
  ASSERT_EQ(adapt->ops.size(), 1u);
  EXPECT_EQ(adapt->ops[0].op, "adapt");

  BenchOptions o = TextRun(Scenario::kPredict);
  o.batch = 4;
  auto predict = RunBenchmark(o, *target);
  ASSERT_TRUE(predict.ok()) << predict.status();
  ExpectTextReport(*predict);
  EXPECT_THAT(FormatTable(*predict), HasSubstr("4 texts each"));
  EXPECT_EQ(server_.server().engine().store_info().adapters, 0);
}

TEST_F(GrpcTextBenchTest, EmptyTextFaultIsCountedAsInvalidArgument) {
  BenchOptions o = TextRun(Scenario::kPredict);
  o.fault = Fault::kInvalidArgument;
  o.fault_fraction = 0.25;
  auto target = NewTarget();
  auto report = RunBenchmark(o, *target);
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectConsistent(*report);
  EXPECT_GT(report->faults_injected, 0);
  EXPECT_EQ(Code(*report, "INVALID_ARGUMENT"), report->faults_injected) << FormatTable(*report);
  EXPECT_EQ(report->ok, report->requests - report->faults_injected);
  EXPECT_THAT(report->error_samples["INVALID_ARGUMENT"], HasSubstr("empty"));
}

TEST(InprocessTextBenchTest, AdaptsAndPredictsTexts) {
  EngineTargetOptions options;
  options.engine.model_repository = TextRepository();
  options.engine.device = "cpu";
  options.engine.intra_op_threads = 1;
  options.threads = 4;
  auto target = NewEngineTarget(options);
  ASSERT_TRUE(target.ok()) << target.status();
  BenchOptions o = TextRun(Scenario::kMix);
  o.backbone = "";  // The only one.
  o.adapt_fraction = 0.3;
  auto report = RunBenchmark(o, **target);
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectTextReport(*report);
  EXPECT_EQ(report->ops.size(), 2u) << FormatTable(*report);
}

}  // namespace
}  // namespace adaptd::bench
