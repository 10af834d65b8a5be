// Counting answers and summarising latency into a Report (load_stats.h).
#include "client/bench/load_stats.h"

#include <utility>

namespace adaptd::bench {
namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

LatencySummary Summarize(const LatencyHistogram& h) {
  LatencySummary s;
  s.count = h.count();
  s.p50_ms = Ms(h.Percentile(50));
  s.p90_ms = Ms(h.Percentile(90));
  s.p99_ms = Ms(h.Percentile(99));
  s.max_ms = Ms(h.max());
  s.mean_ms = Ms(h.mean());
  return s;
}

}  // namespace

void LoadStats::Record(OpKind op, const absl::Status& status, absl::Duration latency) {
  OpStats& s = ops_[static_cast<int>(op)];
  ++s.requests;
  ++s.codes[status.code()];
  if (status.ok()) {
    ++s.ok;
    s.latency.Record(latency);
  } else {
    samples_.emplace(absl::StatusCodeToString(status.code()), std::string(status.message()));
  }
}

void LoadStats::Fill(absl::Duration window, Report& report) const {
  const double seconds = absl::ToDoubleSeconds(window);
  LatencyHistogram all;
  for (int op = 0; op < kOpKinds; ++op) {
    const OpStats& s = ops_[op];
    if (s.requests == 0) continue;
    OpReport r;
    r.op = OpName(static_cast<OpKind>(op));
    r.requests = s.requests;
    r.ok = s.ok;
    r.errors = s.requests - s.ok;
    r.throughput = static_cast<double>(s.ok) / seconds;
    r.latency = Summarize(s.latency);
    for (const auto& [code, n] : s.codes) {
      r.codes[absl::StatusCodeToString(code)] += n;
      report.codes[absl::StatusCodeToString(code)] += n;
    }
    report.requests += r.requests;
    report.ok += r.ok;
    report.errors += r.errors;
    all.Merge(s.latency);
    report.ops.push_back(std::move(r));
  }
  report.throughput = static_cast<double>(report.ok) / seconds;
  report.latency = Summarize(all);
  report.error_samples = samples_;
}

}  // namespace adaptd::bench
