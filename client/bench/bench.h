// adaptd-bench's load generator: runs a scenario (Predict over existing
// adapters, Adapt, or a mix) against a Target, closed-loop with C clients or
// open-loop at a fixed rate, for a warm-up and then a measured duration, and
// returns what it measured. The Target is adaptd over gRPC or the engine in
// process, so both are measured by the same code.
//
//   BenchOptions options;
//   options.scenario = Scenario::kPredict;
//   options.adapters = 1000;
//   options.concurrency = 64;
//   std::unique_ptr<Target> target = NewGrpcTarget({.target = "localhost:50051"});
//   ASSIGN_OR_RETURN(Report report, RunBenchmark(options, *target));
//   std::cout << FormatTable(report);
//
// RunBenchmark is thread-safe in that separate calls share nothing but the
// target.
#ifndef ADAPTD_CLIENT_BENCH_BENCH_H_
#define ADAPTD_CLIENT_BENCH_BENCH_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/bench/target.h"
#include "server/engine/base/types.h"

namespace adaptd::bench {

enum class Scenario { kPredict, kAdapt, kMix };
enum class Arrival { kPoisson, kUniform };
// A deliberate error in a known fraction of the requests, to check that
// errors are counted by their code.
enum class Fault {
  kNone,
  // Predict names a deleted adapter; Adapt names a backbone that does not
  // exist. The server answers NOT_FOUND.
  kNotFound,
  // One input has the wrong shape (for a text backbone: is an empty text).
  // The server answers INVALID_ARGUMENT.
  kInvalidArgument,
  // Predict names another tenant's adapter (needs a target with 2 or more
  // tenants); Adapt names a backbone that does not exist. NOT_FOUND.
  kWrongTenant,
};

absl::StatusOr<Scenario> ParseScenario(absl::string_view name);
absl::StatusOr<Arrival> ParseArrival(absl::string_view name);
absl::StatusOr<Fault> ParseFault(absl::string_view name);
// "meta", "finetune", "prototype" or "" (the server's default); any case.
absl::StatusOr<engine::Method> ParseMethod(absl::string_view name);
const char* ScenarioName(Scenario scenario);
const char* ArrivalName(Arrival arrival);
const char* FaultName(Fault fault);
// The code the server gives a request with `fault`: "NOT_FOUND", ...; "" for none.
const char* FaultCode(Fault fault);

struct BenchOptions {
  // What each request does (see Scenario).
  Scenario scenario = Scenario::kPredict;
  // Backbone to use; empty: the first one the target lists. Its modality
  // decides the inputs: synthetic images in its input shape, or synthetic
  // texts of text_words words for a text backbone.
  std::string backbone;
  // Text backbones: words per synthetic text (their length is what a text
  // backbone's cost depends on).
  int text_words = 12;

  // Closed loop: this many clients, each sending its next request when its
  // last one is answered. Open loop (rate > 0): ignored here, but an
  // in-process target's threads are sized by it (see main.cc).
  int concurrency = 64;
  // Requests per second; > 0 selects the open loop. Latency is measured from
  // each request's intended send time, so a slow server cannot hide its
  // queueing (no coordinated omission).
  double rate = 0;
  // Open loop: exponential gaps (Poisson arrivals) or a fixed interval.
  Arrival arrival = Arrival::kPoisson;
  // Open loop: requests in flight beyond this are not sent; they are
  // counted as `skipped` and say the client, not the server, was the limit.
  int max_outstanding = 10000;

  // Load before measuring starts; its requests are not counted.
  absl::Duration warmup = absl::Seconds(2);
  // The measured window: requests sent in it are counted, and waited for.
  absl::Duration duration = absl::Seconds(10);
  // Deadline of each request.
  absl::Duration timeout = absl::Seconds(30);

  // predict and mix: adapters created (PROTOTYPE) before the load starts;
  // Predicts are spread uniformly over them. Adapter i belongs to tenant
  // i % target.tenants(), and is predicted as that tenant.
  int adapters = 100;
  // predict and mix: inputs (images or texts) per Predict.
  int batch = 1;
  // predict and mix: classes per prediction to return; 0 for all.
  int top_k = 0;
  // adapt and mix: the task of each Adapt, N-way K-shot. The setup
  // adapters have `ways` classes too.
  int ways = 5;
  int shots = 5;
  // predict and mix: examples per class of each setup adapter. A head's
  // size depends on its classes only, so 1 makes the setup quickest.
  int setup_shots = 1;
  engine::Method method = engine::Method::kUnspecified;
  int steps = 0;  // 0: the method's default.
  // mix: the fraction of requests that are Adapt; the rest are Predict.
  double adapt_fraction = 0.05;
  // TTL of every adapter the benchmark creates, so none outlives it long.
  absl::Duration adapter_ttl = absl::Hours(1);
  // Delete the adapters the benchmark created when it is done.
  bool cleanup = true;

  // An error in exactly floor(n * fault_fraction) of any n requests,
  // evenly spread.
  Fault fault = Fault::kNone;
  double fault_fraction = 0;

  // Seeds the inputs and every random choice.
  uint64_t seed = 1;

  // Called with a one-line status every progress_interval, and with setup
  // and cleanup news; may be empty.
  std::function<void(const std::string& line)> progress;
  absl::Duration progress_interval = absl::Seconds(1);
};

// Latency of the OK answers, in milliseconds.
struct LatencySummary {
  int64_t count = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double mean_ms = 0;
};

// What was measured over the requests sent in the window, of one kind or
// of all.
struct RequestCounts {
  int64_t requests = 0;
  int64_t ok = 0;
  int64_t errors = 0;
  double throughput = 0;  // OK answers per second of the window.
  LatencySummary latency;
  std::map<std::string, int64_t> codes;  // "OK", "NOT_FOUND", ... -> count.
};

// Requests of one kind ("predict", "adapt") sent in the measured window.
struct OpReport : RequestCounts {
  std::string op;
};

// The RequestCounts it extends are the totals over every kind.
struct Report : RequestCounts {
  // What ran.
  std::string target;    // Target::Describe().
  std::string scenario;
  std::string backbone;
  std::string modality;  // The backbone's: "image" or "text".
  int text_words = 0;    // Text: words per synthetic text.
  std::string load;      // "closed" or "open".
  int concurrency = 0;   // Closed loop.
  double rate = 0;       // Open loop: the offered rate.
  std::string arrival;   // Open loop.
  int adapters = 0;
  int tenants = 0;
  int batch = 0;
  int ways = 0;
  int shots = 0;
  std::string method;
  double adapt_fraction = 0;
  double warmup_s = 0;
  double duration_s = 0;
  double setup_s = 0;  // Creating the adapters.
  // CPU time of this process over the warm-up and window, in cores (1.0: one
  // core busy). With a gRPC target: the client's cost; in process: everything.
  double client_cpu_cores = 0;

  // What it measured, over requests sent in the window, beyond the totals.
  std::vector<OpReport> ops;  // One per kind sent.
  // The first message seen for each error code, to explain the counts.
  std::map<std::string, std::string> error_samples;
  // Open loop: not sent because max_outstanding were in flight.
  int64_t skipped = 0;

  std::string fault;       // FaultName().
  double fault_fraction = 0;
  std::string fault_code;  // The code faulty requests should get.
  int64_t faults_injected = 0;
};

// INVALID_ARGUMENT naming the first field of `options` out of its range;
// RunBenchmark checks this first.
absl::Status ValidateOptions(const BenchOptions& options);

// Runs the benchmark. Fails only when it cannot start: no such backbone,
// bad options, or the setup's Adapt calls fail. Errors during the load are
// counted in the report, not returned.
absl::StatusOr<Report> RunBenchmark(const BenchOptions& options, Target& target);

// The report for people: a table and the counts by status code.
std::string FormatTable(const Report& report);
// The report as one JSON object (with a trailing newline), for scripts.
std::string FormatJson(const Report& report);

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_BENCH_H_
