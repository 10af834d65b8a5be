// FormatTable and FormatJson (declared in bench.h).
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/bench/bench.h"

namespace adaptd::bench {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Enough digits for a latency in ms or a rate, without float noise.
std::string Num(double v) { return absl::StrFormat("%.6g", v); }

std::string Json(const LatencySummary& l) {
  return absl::StrCat("{\"count\":", l.count, ",\"p50\":", Num(l.p50_ms), ",\"p90\":",
                      Num(l.p90_ms), ",\"p99\":", Num(l.p99_ms), ",\"max\":", Num(l.max_ms),
                      ",\"mean\":", Num(l.mean_ms), "}");
}

template <typename Map, typename Format>
std::string JsonObject(const Map& map, Format format) {
  return absl::StrCat(
      "{",
      absl::StrJoin(map, ",",
                    [&](std::string* out, const auto& kv) {
                      absl::StrAppend(out, Quote(kv.first), ":", format(kv.second));
                    }),
      "}");
}

std::string Row(const std::string& op, int64_t requests, int64_t ok, int64_t errors,
                double throughput, const LatencySummary& l) {
  return absl::StrFormat("%-9s %10d %10d %8d %11.1f %9.2f %9.2f %9.2f %9.2f %9.2f\n", op,
                         requests, ok, errors, throughput, l.p50_ms, l.p90_ms, l.p99_ms,
                         l.max_ms, l.mean_ms);
}

}  // namespace

std::string FormatTable(const Report& r) {
  std::string out;
  absl::StrAppendFormat(&out, "%-10s %s scenario, %s, backbone %s\n", "adaptd-bench",
                        r.scenario, r.target, r.backbone);
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
    absl::StrAppendFormat(&work, "Predict over %d adapters (created in %.1f s), %d image%s each",
                          r.adapters, r.setup_s, r.batch, r.batch == 1 ? "" : "s");
    if (r.tenants > 1) absl::StrAppendFormat(&work, ", %d tenants", r.tenants);
  }
  if (r.adapt_fraction > 0) {
    absl::StrAppendFormat(&work, "%s%sAdapt %d-way %d-shot, method %s", work.empty() ? "" : "; ",
                          r.adapt_fraction < 1
                              ? absl::StrFormat("%.1f%% ", 100 * r.adapt_fraction)
                              : std::string(),
                          r.ways, r.shots, r.method);
  }
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
  for (const auto& op : r.ops) {
    out += Row(op.op, op.requests, op.ok, op.errors, op.throughput, op.latency);
  }
  if (r.ops.size() != 1) out += Row("total", r.requests, r.ok, r.errors, r.throughput, r.latency);
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
  auto count = [](int64_t n) { return absl::StrCat(n); };
  std::vector<std::string> ops;
  for (const auto& op : r.ops) {
    ops.push_back(absl::StrCat("{\"op\":", Quote(op.op), ",\"requests\":", op.requests,
                               ",\"ok\":", op.ok, ",\"errors\":", op.errors,
                               ",\"throughput\":", Num(op.throughput),
                               ",\"latency_ms\":", Json(op.latency),
                               ",\"codes\":", JsonObject(op.codes, count), "}"));
  }
  return absl::StrCat(
      "{\"target\":", Quote(r.target), ",\"scenario\":", Quote(r.scenario),
      ",\"backbone\":", Quote(r.backbone), ",\"load\":", Quote(r.load),
      ",\"concurrency\":", r.concurrency, ",\"rate\":", Num(r.rate),
      ",\"arrival\":", Quote(r.arrival), ",\"adapters\":", r.adapters, ",\"tenants\":", r.tenants, ",\"batch\":", r.batch,
      ",\"ways\":", r.ways, ",\"shots\":", r.shots, ",\"method\":", Quote(r.method),
      ",\"adapt_fraction\":", Num(r.adapt_fraction), ",\"warmup_s\":", Num(r.warmup_s),
      ",\"duration_s\":", Num(r.duration_s), ",\"setup_s\":", Num(r.setup_s),
      ",\"client_cpu_cores\":", Num(r.client_cpu_cores),
      ",\"requests\":", r.requests, ",\"ok\":", r.ok, ",\"errors\":", r.errors,
      ",\"throughput\":", Num(r.throughput), ",\"latency_ms\":", Json(r.latency),
      ",\"codes\":", JsonObject(r.codes, count), ",\"ops\":[", absl::StrJoin(ops, ","), "]",
      ",\"error_samples\":", JsonObject(r.error_samples, Quote), ",\"skipped\":", r.skipped,
      ",\"fault\":{\"kind\":", Quote(r.fault), ",\"fraction\":", Num(r.fault_fraction),
      ",\"code\":", Quote(r.fault_code), ",\"injected\":", r.faults_injected, "}}\n");
}

}  // namespace adaptd::bench
