// FormatTable and FormatJson (declared in bench.h).
#include <cmath>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/bench/bench.h"

namespace adaptd::bench {
namespace {

// Keeps the order of the keys as written, which scripts and people read.
using Json = nlohmann::ordered_json;

// A figure rounded to 6 significant digits (enough for a latency in ms or a
// rate, without float noise); null where it is not finite, which JSON
// cannot hold.
Json Number(double v) {
  if (!std::isfinite(v)) return nullptr;
  return std::strtod(absl::StrFormat("%.6g", v).c_str(), nullptr);
}

Json LatencyJson(const LatencySummary& l) {
  return Json{{"count", l.count},        {"p50", Number(l.p50_ms)},
              {"p90", Number(l.p90_ms)}, {"p99", Number(l.p99_ms)},
              {"max", Number(l.max_ms)}, {"mean", Number(l.mean_ms)}};
}

// The counts' keys, after `json`'s.
void AddCounts(const RequestCounts& c, Json& json) {
  json["requests"] = c.requests;
  json["ok"] = c.ok;
  json["errors"] = c.errors;
  json["throughput"] = Number(c.throughput);
  json["latency_ms"] = LatencyJson(c.latency);
  json["codes"] = Json(c.codes);
}

std::string Row(const std::string& name, const RequestCounts& c) {
  const LatencySummary& l = c.latency;
  return absl::StrFormat("%-9s %10d %10d %8d %11.1f %9.2f %9.2f %9.2f %9.2f %9.2f\n", name,
                         c.requests, c.ok, c.errors, c.throughput, l.p50_ms, l.p90_ms, l.p99_ms,
                         l.max_ms, l.mean_ms);
}

}  // namespace

std::string FormatTable(const Report& r) {
  std::string out;
  absl::StrAppendFormat(&out, "%-10s %s scenario, %s, backbone %s (%s)\n", "adaptd-bench",
                        r.scenario, r.target, r.backbone, r.modality);
  if (r.load == "open") {
    absl::StrAppendFormat(&out, "%-10s open loop at %.1f requests/s (%s arrivals)", "load",
                          r.rate, r.arrival);
  } else {
    absl::StrAppendFormat(&out, "%-10s closed loop, %d client%s", "load", r.concurrency,
                          r.concurrency == 1 ? "" : "s");
  }
  absl::StrAppendFormat(&out, "; warm-up %.1f s, measured %.1f s\n", r.warmup_s, r.duration_s);
  std::string work;
  if (r.adapters > 0) {
    absl::StrAppendFormat(&work, "Predict over %d adapters (created in %.1f s), %d %s%s each",
                          r.adapters, r.setup_s, r.batch, r.modality == "text" ? "text" : "image",
                          r.batch == 1 ? "" : "s");
    if (r.tenants > 1) absl::StrAppendFormat(&work, ", %d tenants", r.tenants);
  }
  if (r.adapt_fraction > 0) {
    absl::StrAppendFormat(&work, "%s%sAdapt %d-way %d-shot, method %s", work.empty() ? "" : "; ",
                          r.adapt_fraction < 1
                              ? absl::StrFormat("%.1f%% ", 100 * r.adapt_fraction)
                              : std::string(),
                          r.ways, r.shots, r.method);
  }
  if (r.text_words > 0) absl::StrAppendFormat(&work, "; texts of %d words", r.text_words);
  absl::StrAppendFormat(&out, "%-10s %s\n", "workload", work);
  absl::StrAppendFormat(&out, "%-10s %.2f cores of this process (%s)\n", "cpu",
                        r.client_cpu_cores,
                        r.target.rfind("inprocess", 0) == 0 ? "client and engine" : "client");
  if (r.fault != "none") {
    absl::StrAppendFormat(&out, "%-10s %s in %.2f%% of requests: %d sent, each should get %s\n",
                          "fault", r.fault, 100 * r.fault_fraction, r.faults_injected,
                          r.fault_code);
  }
  if (r.skipped > 0) {
    absl::StrAppendFormat(&out,
                          "%-10s %d requests not sent: too many in flight on the client "
                          "(--max_outstanding); the figures understate the offered load\n",
                          "WARNING", r.skipped);
  }
  out += "\n";
  absl::StrAppendFormat(&out, "%-9s %10s %10s %8s %11s %9s %9s %9s %9s %9s\n", "op", "requests",
                        "ok", "errors", "ok/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
                        "mean ms");
  for (const auto& op : r.ops) out += Row(op.op, op);
  if (r.ops.size() != 1) out += Row("total", r);
  out += "(latency of OK answers, from the intended send time)\n\n";
  absl::StrAppendFormat(&out, "%-20s %10s\n", "status", "count");
  for (const auto& [code, n] : r.codes) {
    absl::StrAppendFormat(&out, "%-20s %10d", code, n);
    if (auto it = r.error_samples.find(code); it != r.error_samples.end()) {
      std::string sample = it->second;
      if (sample.size() > 100) sample = sample.substr(0, 97) + "...";
      absl::StrAppend(&out, "   e.g. ", sample);
    }
    out += "\n";
  }
  if (r.codes.empty()) out += "(no requests were sent in the measured window)\n";
  return out;
}

std::string FormatJson(const Report& r) {
  Json json = {{"target", r.target},
               {"scenario", r.scenario},
               {"backbone", r.backbone},
               {"load", r.load},
               {"concurrency", r.concurrency},
               {"rate", Number(r.rate)},
               {"arrival", r.arrival},
               {"adapters", r.adapters},
               {"tenants", r.tenants},
               {"batch", r.batch},
               {"ways", r.ways},
               {"shots", r.shots},
               {"method", r.method},
               {"adapt_fraction", Number(r.adapt_fraction)},
               {"warmup_s", Number(r.warmup_s)},
               {"duration_s", Number(r.duration_s)},
               {"setup_s", Number(r.setup_s)},
               {"client_cpu_cores", Number(r.client_cpu_cores)}};
  AddCounts(r, json);
  Json ops = Json::array();
  for (const auto& op : r.ops) {
    Json o = {{"op", op.op}};
    AddCounts(op, o);
    ops.push_back(std::move(o));
  }
  json["ops"] = std::move(ops);
  json["error_samples"] = Json(r.error_samples);
  json["skipped"] = r.skipped;
  json["fault"] = {{"kind", r.fault},
                   {"fraction", Number(r.fault_fraction)},
                   {"code", r.fault_code},
                   {"injected", r.faults_injected}};
  // After the older keys, whose order readers rely on.
  json["modality"] = r.modality;
  json["text_words"] = r.text_words;
  // Replace, not throw on, bytes that are not UTF-8 (a target's name, a
  // server's message).
  return json.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace adaptd::bench
