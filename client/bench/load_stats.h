// What the load measured: for each kind of request sent in the measured
// window, the answers counted by status code, the latency of the OK ones,
// and the first message of each error code. Internal to adaptd_bench.
//
//   LoadStats stats;
//   stats.Record(OpKind::kPredict, status, absl::Now() - intended);
//   stats.Fill(options.duration, report);
#ifndef ADAPTD_CLIENT_BENCH_LOAD_STATS_H_
#define ADAPTD_CLIENT_BENCH_LOAD_STATS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/bench/bench.h"
#include "client/bench/latency_histogram.h"
#include "client/bench/workload.h"

namespace adaptd::bench {

// Not thread-safe: LoadRunner guards it.
class LoadStats {
 public:
  // One answer to a request sent in the measured window, `latency` after
  // its intended send time.
  void Record(OpKind op, const absl::Status& status, absl::Duration latency);

  // Sets the totals, ops and error_samples of `report`; throughput is per
  // second of `window`, the measured duration.
  void Fill(absl::Duration window, Report& report) const;

 private:
  struct OpStats {
    int64_t requests = 0;
    int64_t ok = 0;
    LatencyHistogram latency;  // OK answers only.
    std::map<absl::StatusCode, int64_t> codes;
  };

  OpStats ops_[kOpKinds];
  // The first message seen for each error code.
  std::map<std::string, std::string> samples_;
};

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_LOAD_STATS_H_
