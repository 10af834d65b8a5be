// adaptd-bench: load generator for adaptd. See kUsage below, or run
// `adaptd-bench --help`.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/bench/bench.h"
#include "client/bench/engine_target.h"
#include "server/common/status_macros.h"
#include "server/common/version.h"
#include "server/engine_flags.h"
#ifdef ADAPTD_BENCH_GRPC
#include "client/bench/grpc_target.h"
#endif

ABSL_FLAG(std::string, mode, "grpc",
          "grpc: load adaptd at --target. inprocess: load the engine itself, loaded from "
          "--model_repository, with no gRPC in between (the raw engine baseline).");
ABSL_FLAG(std::string, target, "localhost:50051", "grpc: adaptd's address, host:port.");
ABSL_FLAG(int, channels, 1, "grpc: TCP connections to spread the requests over.");
ABSL_FLAG(std::vector<std::string>, token, {},
          "grpc: bearer tokens, comma-separated, one per tenant: each is sent as "
          "'authorization: Bearer <token>', and adapter i is created and predicted with "
          "token i % count. Empty: no header (adaptd without auth).");
ABSL_FLAG(bool, tls, false, "grpc: use TLS (implied by the --tls_*_file flags).");
ABSL_FLAG(std::string, tls_ca_file, "",
          "grpc: PEM CA bundle that verifies the server; empty: the system roots.");
ABSL_FLAG(std::string, tls_cert_file, "", "grpc: PEM client certificate chain, for mTLS.");
ABSL_FLAG(std::string, tls_key_file, "", "grpc: PEM client private key, for mTLS.");
ABSL_FLAG(int, tenants, 1,
          "inprocess: tenants to spread the adapters over (adapter i is tenant i % N's).");
ABSL_FLAG(int, inprocess_threads, 0,
          "inprocess: threads calling the engine (decoding, and each Adapt's whole run); "
          "0: --concurrency.");

ABSL_FLAG(std::string, scenario, "predict",
          "predict: Predict only, spread uniformly over --adapters adapters made first. "
          "adapt: Adapt only, --ways-way --shots-shot with --method. "
          "mix: --adapt_fraction Adapt, the rest Predict over --adapters adapters.");
ABSL_FLAG(std::string, backbone, "",
          "Backbone to use; empty: the first one listed. A text backbone (modality text, "
          "e.g. wordnet-text) gets synthetic English texts instead of images.");
ABSL_FLAG(int, text_words, 12, "Text backbones: words per synthetic text.");
ABSL_FLAG(int, concurrency, 64,
          "Closed loop: clients, each sending its next request when the last is answered.");
ABSL_FLAG(double, rate, 0,
          "Requests per second; > 0 selects the open loop, which sends on schedule whatever "
          "the answers do and measures latency from each intended send time.");
ABSL_FLAG(std::string, arrival, "poisson",
          "Open loop: poisson (exponential gaps) or uniform (a fixed interval).");
ABSL_FLAG(int, max_outstanding, 10000,
          "Open loop: requests in flight beyond this are not sent but counted as skipped.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "Load before measuring, not counted.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "The measured window.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30), "Deadline of each request.");
ABSL_FLAG(int, adapters, 100,
          "predict, mix: adapters to create first (PROTOTYPE, --ways-way "
          "--setup_shots-shot).");
ABSL_FLAG(int, setup_shots, 1,
          "predict, mix: examples per class of each setup adapter (the head's size "
          "depends on --ways only).");
ABSL_FLAG(int, batch, 1, "predict, mix: inputs (images or texts) per Predict.");
ABSL_FLAG(int, top_k, 0, "predict, mix: classes per prediction to return; 0: all.");
ABSL_FLAG(int, ways, 5, "Classes per Adapt task (and per setup adapter).");
ABSL_FLAG(int, shots, 5, "Examples per class per Adapt task.");
ABSL_FLAG(std::string, method, "",
          "adapt, mix: meta, finetune or prototype; empty: the server's default.");
ABSL_FLAG(int, steps, 0, "adapt, mix: adaptation steps; 0: the method's default.");
ABSL_FLAG(double, adapt_fraction, 0.05, "mix: the fraction of requests that are Adapt.");
ABSL_FLAG(absl::Duration, adapter_ttl, absl::Hours(1),
          "TTL of the adapters the benchmark creates.");
ABSL_FLAG(bool, cleanup, true, "Delete the adapters the benchmark created when it is done.");
ABSL_FLAG(std::string, fault, "none",
          "Make --fault_fraction of the requests bad on purpose, to check error counting: "
          "not_found (Predict a deleted adapter, Adapt an unknown backbone), "
          "invalid_argument (an input of the wrong shape, or an empty text) or wrong_tenant (Predict another "
          "tenant's adapter, needs 2+ tenants; Adapt an unknown backbone).");
ABSL_FLAG(double, fault_fraction, 0.01,
          "With --fault: exactly floor(n * this) of any n requests are bad, evenly spread.");
ABSL_FLAG(uint64_t, seed, 1, "Seeds the inputs and every random choice.");
ABSL_FLAG(bool, json, false, "Print the report as one JSON object instead of a table.");
ABSL_FLAG(bool, progress, true, "Print a progress line to stderr while running.");

namespace {

constexpr char kUsage[] = R"text(load generator for adaptd, the few-shot adaptation server.

Runs a scenario against adaptd over gRPC (--mode=grpc) or against the engine
in process (--mode=inprocess, the raw engine baseline, same inputs), with a
warm-up and then a measured window. Reports throughput (OK answers per
second), latency p50/p90/p99/max of the OK answers, and every answer counted
by status code. Inputs are synthetic UINT8 images in the backbone's input
shape or, for a text backbone, synthetic English texts of --text_words words
(each class with its own topic words), the same for a given --seed.

Examples:
  # Predict over 1000 adapters with 64 concurrent clients:
  adaptd-bench --target=localhost:50051 --scenario=predict --adapters=1000 --concurrency=64

  # The same on the engine itself, no gRPC:
  adaptd-bench --mode=inprocess --model_repository=./models --device=cpu \
      --scenario=predict --adapters=1000 --concurrency=64

  # Text: 5-way 5-shot Adapt on the text backbone, then Predict of 8 texts each:
  adaptd-bench --backbone=wordnet-text --scenario=adapt --ways=5 --shots=5 --concurrency=1
  adaptd-bench --backbone=wordnet-text --scenario=predict --batch=8 --text_words=20

  # 5-way 5-shot META adaptation, one at a time, as JSON:
  adaptd-bench --scenario=adapt --ways=5 --shots=5 --method=meta --concurrency=1 --json

  # Open loop at 500 requests/s, 5% Adapt, 1000 adapters, 30 s:
  adaptd-bench --scenario=mix --adapt_fraction=0.05 --adapters=1000 --rate=500 --duration=30s

  # Check error counting: 10% of Predicts name a deleted adapter (NOT_FOUND):
  adaptd-bench --fault=not_found --fault_fraction=0.1

  # adaptd with --auth_token_file: three tenants' adapters, and 1% of
  # Predicts aimed at another tenant's adapter (each must get NOT_FOUND):
  adaptd-bench --token=TOKEN_A,TOKEN_B,TOKEN_C --fault=wrong_tenant

Progress goes to stderr, the report to stdout. Exit status: 0 when the run
completed (whatever the servers answered: read the counts), 1 when it could
not start (no server, no such backbone, setup failed), 2 for a bad flag.

Flags:)text";

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Progress lines: rewritten in place on a terminal, one per line otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter() : tty_(isatty(STDERR_FILENO) != 0) {}
  void Print(const std::string& line) {
    if (tty_) {
      std::cerr << "\r\033[K" << line << std::flush;
      pending_ = true;
    } else {
      std::cerr << line << std::endl;
    }
  }
  void End() {
    if (pending_) std::cerr << std::endl;
    pending_ = false;
  }

 private:
  const bool tty_;
  bool pending_ = false;
};

// --help lists the flags of this file and the engine's (for --mode=inprocess,
// as adaptd takes them); absl would look for adaptd-bench.cc.
bool IsBenchFlagFile(absl::string_view file) {
  return absl::EndsWith(file, "client/bench/main.cc") ||
         absl::EndsWith(file, "server/engine_flags.cc");
}

namespace bench = adaptd::bench;

// The run's options from the flags; INVALID_ARGUMENT names a bad one.
absl::StatusOr<bench::BenchOptions> OptionsFromFlags() {
  bench::BenchOptions options;
  ASSIGN_OR_RETURN(options.scenario, bench::ParseScenario(absl::GetFlag(FLAGS_scenario)));
  ASSIGN_OR_RETURN(options.arrival, bench::ParseArrival(absl::GetFlag(FLAGS_arrival)));
  ASSIGN_OR_RETURN(options.fault, bench::ParseFault(absl::GetFlag(FLAGS_fault)));
  ASSIGN_OR_RETURN(options.method, bench::ParseMethod(absl::GetFlag(FLAGS_method)));
  options.backbone = absl::GetFlag(FLAGS_backbone);
  options.text_words = absl::GetFlag(FLAGS_text_words);
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.rate = absl::GetFlag(FLAGS_rate);
  options.max_outstanding = absl::GetFlag(FLAGS_max_outstanding);
  options.warmup = absl::GetFlag(FLAGS_warmup);
  options.duration = absl::GetFlag(FLAGS_duration);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  options.adapters = absl::GetFlag(FLAGS_adapters);
  options.batch = absl::GetFlag(FLAGS_batch);
  options.top_k = absl::GetFlag(FLAGS_top_k);
  options.ways = absl::GetFlag(FLAGS_ways);
  options.shots = absl::GetFlag(FLAGS_shots);
  options.setup_shots = absl::GetFlag(FLAGS_setup_shots);
  options.steps = absl::GetFlag(FLAGS_steps);
  options.adapt_fraction = absl::GetFlag(FLAGS_adapt_fraction);
  options.adapter_ttl = absl::GetFlag(FLAGS_adapter_ttl);
  options.cleanup = absl::GetFlag(FLAGS_cleanup);
  options.fault_fraction = absl::GetFlag(FLAGS_fault_fraction);
  options.seed = absl::GetFlag(FLAGS_seed);
  return options;
}

// The target --mode names; INVALID_ARGUMENT for a mode this build lacks.
absl::StatusOr<std::unique_ptr<bench::Target>> TargetFromFlags(int concurrency) {
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "grpc") {
#ifdef ADAPTD_BENCH_GRPC
    bench::GrpcTargetOptions grpc;
    grpc.target = absl::GetFlag(FLAGS_target);
    grpc.channels = absl::GetFlag(FLAGS_channels);
    grpc.tokens = absl::GetFlag(FLAGS_token);
    grpc.tls = absl::GetFlag(FLAGS_tls);
    grpc.tls_ca_file = absl::GetFlag(FLAGS_tls_ca_file);
    grpc.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
    grpc.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
    return bench::NewGrpcTarget(grpc);
#else
    return absl::InvalidArgumentError(
        "--mode=grpc: built without gRPC (ADAPTD_ENGINE_ONLY); use --mode=inprocess");
#endif
  }
  if (mode == "inprocess") {
    bench::EngineTargetOptions inprocess;
    inprocess.engine = adaptd::EngineOptionsFromFlags();
    inprocess.tenants = absl::GetFlag(FLAGS_tenants);
    const int threads = absl::GetFlag(FLAGS_inprocess_threads);
    inprocess.threads = threads > 0 ? threads : std::max(1, concurrency);
    return bench::NewEngineTarget(inprocess);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--mode: expected grpc or inprocess, got '", mode, "'"));
}

// Prints `status` and returns the exit code for it.
int Fail(const absl::Status& status) {
  std::cerr << "adaptd-bench: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return absl::IsInvalidArgument(status) ? kExitUsage : kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage;
  usage.contains_helpshort_flags = &IsBenchFlagFile;
  usage.contains_help_flags = &IsBenchFlagFile;
  adaptd::SetUsageConfig("adaptd-bench", adaptd::WithLibTorch::kYes, usage);
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::cerr << "adaptd-bench: unexpected argument '" << rest[1] << "'; see --help\n";
    return kExitUsage;
  }
  absl::StatusOr<bench::BenchOptions> options = OptionsFromFlags();
  if (!options.ok()) return Fail(options.status());
  ProgressPrinter printer;
  if (absl::GetFlag(FLAGS_progress)) {
    options->progress = [&printer](const std::string& line) { printer.Print(line); };
  }
  absl::StatusOr<std::unique_ptr<bench::Target>> target = TargetFromFlags(options->concurrency);
  if (!target.ok()) return Fail(target.status());
  absl::StatusOr<bench::Report> report = bench::RunBenchmark(*options, **target);
  printer.End();
  if (!report.ok()) return Fail(report.status());
  std::cout << (absl::GetFlag(FLAGS_json) ? bench::FormatJson(*report)
                                          : bench::FormatTable(*report))
            << std::flush;
  if (!std::cout) {
    std::cerr << "adaptd-bench: cannot write the report to standard output\n";
    return kExitFailure;
  }
  return 0;
}
