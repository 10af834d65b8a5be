// RunBenchmark: checks the options, finds the backbone, makes the inputs,
// creates the setup adapters, runs the load and cleans up. The parts live
// beside it: the scenarios in workload.h, fault injection in faults.h, the
// arrival process in arrival.h, the run loop in load_runner.h, its counts in
// load_stats.h, setup and cleanup in setup.h, the options in
// bench_options.cc, the report's formats in report.cc.
#include "client/bench/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/bench/faults.h"
#include "client/bench/load_runner.h"
#include "client/bench/setup.h"
#include "client/bench/synthetic_inputs.h"
#include "client/bench/workload.h"

namespace adaptd::bench {
namespace {

// The input pool is kept under this many bytes, whatever the input shape.
constexpr int64_t kPoolBytes = 64 << 20;

double ProcessCpuSeconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The backbone named `name` (empty: the first listed): a text backbone, or
// an image one with a [C,H,W] input shape.
absl::StatusOr<BackboneSpec> FindBackbone(Target& target, const std::string& name) {
  absl::StatusOr<std::vector<BackboneSpec>> backbones = target.ListBackbones();
  if (!backbones.ok()) {
    return absl::Status(backbones.status().code(),
                        absl::StrCat("ListBackbones: ", backbones.status().message()));
  }
  const BackboneSpec* spec = nullptr;
  std::vector<std::string> names;
  for (const auto& b : *backbones) {
    names.push_back(b.name);
    if (spec == nullptr && (name.empty() || b.name == name)) spec = &b;
  }
  if (spec == nullptr) {
    return absl::NotFoundError(absl::StrCat("backbone '", name, "' is not served; there are: ",
                                            names.empty() ? "none" : absl::StrJoin(names, ", ")));
  }
  if (spec->modality == "text") return *spec;
  const auto& shape = spec->input_shape;
  if (shape.size() != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("backbone ", spec->name, ": input shape [", absl::StrJoin(shape, ","),
                     "] is not [C,H,W]"));
  }
  return *spec;
}

// Every input the run sends, made once. Support sets use instances
// 0..shots-1 of `ways` consecutive classes; queries any of them.
// REQUIRES: `spec` is as FindBackbone returns it.
InputPool MakeInputPool(const BackboneSpec& spec, const BenchOptions& options) {
  const int instances = std::max(options.shots, options.setup_shots) + 2;
  if (spec.modality == "text") {
    return InputPool::Texts(std::max(options.ways, 100), instances, options.text_words,
                            options.seed);
  }
  const std::vector<int64_t>& shape = spec.input_shape;
  const int64_t image_bytes = shape[0] * shape[1] * shape[2];
  const int classes = static_cast<int>(
      std::clamp<int64_t>(kPoolBytes / (image_bytes * instances), options.ways, 100));
  return InputPool(shape, classes, instances, options.seed);
}

// The report's "what ran" part.
Report DescribeRun(const BenchOptions& options, const Target& target,
                   const BackboneSpec& backbone) {
  const bool open = options.rate > 0;
  const bool adapt_only = options.scenario == Scenario::kAdapt;
  Report report;
  report.target = target.Describe();
  report.scenario = ScenarioName(options.scenario);
  report.backbone = backbone.name;
  report.modality = backbone.modality;
  report.text_words = backbone.modality == "text" ? options.text_words : 0;
  report.load = open ? "open" : "closed";
  report.concurrency = open ? 0 : options.concurrency;
  report.rate = options.rate;
  report.arrival = open ? ArrivalName(options.arrival) : "";
  report.adapters = adapt_only ? 0 : options.adapters;
  report.tenants = target.tenants();
  report.batch = adapt_only ? 0 : options.batch;
  report.ways = options.ways;
  report.shots = options.shots;
  report.method = options.method == engine::Method::kUnspecified
                      ? "default"
                      : absl::AsciiStrToLower(engine::MethodName(options.method));
  report.adapt_fraction = options.scenario == Scenario::kMix ? options.adapt_fraction
                          : adapt_only                       ? 1.0
                                                             : 0.0;
  report.warmup_s = absl::ToDoubleSeconds(options.warmup);
  report.duration_s = absl::ToDoubleSeconds(options.duration);
  report.fault = FaultName(options.fault);
  report.fault_fraction = options.fault == Fault::kNone ? 0 : options.fault_fraction;
  report.fault_code = FaultCode(options.fault);
  return report;
}

// Runs the load over `setup`'s adapters and fills the measured part of
// `report`; returns the adapters its Adapt requests made.
std::vector<TenantAdapter> RunLoad(const BenchOptions& options, Target& target,
                                   const InputPool& pool, const SetupAdapters& setup,
                                   Report& report) {
  const Workload workload(options, pool, report.backbone, setup.adapters, report.tenants);
  const FaultInjector faults(options.fault, options.fault_fraction, pool.malformed(),
                             setup.deleted, report.tenants);
  auto runner = std::make_shared<LoadRunner>(options, target, workload, faults);
  const double cpu_start = ProcessCpuSeconds();
  const absl::Time wall_start = absl::Now();
  runner->Run();
  report.client_cpu_cores = (ProcessCpuSeconds() - cpu_start) /
                            std::max(1e-9, absl::ToDoubleSeconds(absl::Now() - wall_start));
  runner->Fill(report);
  return runner->TakeCreated();
}

}  // namespace

absl::StatusOr<Report> RunBenchmark(const BenchOptions& options, Target& target) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  absl::StatusOr<BackboneSpec> spec = FindBackbone(target, options.backbone);
  if (!spec.ok()) return spec.status();
  const InputPool pool = MakeInputPool(*spec, options);
  Report report = DescribeRun(options, target, *spec);
  if (options.fault == Fault::kWrongTenant && report.tenants < 2) {
    return absl::InvalidArgumentError(
        "fault: wrong_tenant needs 2 or more tenants (tokens, or --tenants in process)");
  }

  SetupAdapters setup;
  if (options.scenario != Scenario::kAdapt) {
    const absl::Time setup_start = absl::Now();
    absl::StatusOr<SetupAdapters> created =
        CreateSetupAdapters(options, target, pool, spec->name);
    if (!created.ok()) return created.status();
    setup = *std::move(created);
    report.setup_s = absl::ToDoubleSeconds(absl::Now() - setup_start);
  }

  std::vector<TenantAdapter> made = RunLoad(options, target, pool, setup, report);
  if (options.cleanup) {
    for (auto& id : OwnedAdapters(setup.adapters, report.tenants)) made.push_back(std::move(id));
    DeleteAdapters(made, target, options);
  }
  return report;
}

}  // namespace adaptd::bench
