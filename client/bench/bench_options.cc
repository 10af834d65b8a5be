// BenchOptions' enums by name, for flags and the report, and the check of a
// whole BenchOptions (all declared in bench.h).
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/bench/bench.h"

namespace adaptd::bench {

absl::StatusOr<Scenario> ParseScenario(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "predict") return Scenario::kPredict;
  if (n == "adapt") return Scenario::kAdapt;
  if (n == "mix") return Scenario::kMix;
  return absl::InvalidArgumentError(
      absl::StrCat("scenario: expected predict, adapt or mix, got '", name, "'"));
}

absl::StatusOr<Arrival> ParseArrival(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "poisson") return Arrival::kPoisson;
  if (n == "uniform" || n == "fixed") return Arrival::kUniform;
  return absl::InvalidArgumentError(
      absl::StrCat("arrival: expected poisson or uniform, got '", name, "'"));
}

absl::StatusOr<Fault> ParseFault(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n.empty() || n == "none") return Fault::kNone;
  if (n == "not_found") return Fault::kNotFound;
  if (n == "invalid_argument") return Fault::kInvalidArgument;
  if (n == "wrong_tenant") return Fault::kWrongTenant;
  return absl::InvalidArgumentError(absl::StrCat(
      "fault: expected none, not_found, invalid_argument or wrong_tenant, got '", name, "'"));
}

absl::StatusOr<engine::Method> ParseMethod(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n.empty() || n == "unspecified" || n == "default") return engine::Method::kUnspecified;
  if (n == "meta") return engine::Method::kMeta;
  if (n == "finetune") return engine::Method::kFinetune;
  if (n == "prototype") return engine::Method::kPrototype;
  return absl::InvalidArgumentError(
      absl::StrCat("method: expected meta, finetune, prototype or empty, got '", name, "'"));
}

const char* ScenarioName(Scenario scenario) {
  switch (scenario) {
    case Scenario::kPredict: return "predict";
    case Scenario::kAdapt: return "adapt";
    case Scenario::kMix: return "mix";
  }
  return "?";
}

const char* ArrivalName(Arrival arrival) {
  return arrival == Arrival::kPoisson ? "poisson" : "uniform";
}

const char* FaultName(Fault fault) {
  switch (fault) {
    case Fault::kNone: return "none";
    case Fault::kNotFound: return "not_found";
    case Fault::kInvalidArgument: return "invalid_argument";
    case Fault::kWrongTenant: return "wrong_tenant";
  }
  return "?";
}

const char* FaultCode(Fault fault) {
  switch (fault) {
    case Fault::kNone: return "";
    case Fault::kNotFound: return "NOT_FOUND";
    case Fault::kInvalidArgument: return "INVALID_ARGUMENT";
    case Fault::kWrongTenant: return "NOT_FOUND";
  }
  return "";
}

absl::Status ValidateOptions(const BenchOptions& o) {
  auto bad = [](auto... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (o.duration <= absl::ZeroDuration()) return bad("duration: must be positive");
  if (o.warmup < absl::ZeroDuration()) return bad("warmup: must not be negative");
  if (o.timeout <= absl::ZeroDuration()) return bad("timeout: must be positive");
  if (o.rate < 0) return bad("rate: must not be negative, got ", o.rate);
  if (o.rate <= 0 && o.concurrency < 1) return bad("concurrency: must be at least 1");
  if (o.max_outstanding < 1) return bad("max_outstanding: must be at least 1");
  if (o.scenario != Scenario::kAdapt && o.adapters < 1) {
    return bad("adapters: the ", ScenarioName(o.scenario), " scenario needs at least 1");
  }
  if (o.batch < 1) return bad("batch: must be at least 1, got ", o.batch);
  if (o.text_words < 1) return bad("text_words: must be at least 1, got ", o.text_words);
  if (o.ways < 1 || o.shots < 1 || o.setup_shots < 1) {
    return bad("ways, shots, setup_shots: must be at least 1");
  }
  if (o.adapt_fraction < 0 || o.adapt_fraction > 1) return bad("adapt_fraction: not in [0,1]");
  if (o.fault_fraction < 0 || o.fault_fraction > 1) return bad("fault_fraction: not in [0,1]");
  if (o.progress_interval <= absl::ZeroDuration()) {
    return bad("progress_interval: must be positive");
  }
  return absl::OkStatus();
}

}  // namespace adaptd::bench
