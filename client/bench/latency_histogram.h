// A fixed-memory latency histogram with about 0.4% relative precision, from
// 1 microsecond to days, in the manner of HdrHistogram. Percentiles are the
// highest value of their bucket, so they never understate a latency; max is
// exact. Not thread-safe: callers guard it (see LoadStats in load_stats.h).
//
//   LatencyHistogram h;
//   h.Record(absl::Milliseconds(3));
//   absl::Duration p99 = h.Percentile(99);
#ifndef ADAPTD_CLIENT_BENCH_LATENCY_HISTOGRAM_H_
#define ADAPTD_CLIENT_BENCH_LATENCY_HISTOGRAM_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace adaptd::bench {

class LatencyHistogram {
 public:
  LatencyHistogram();

  // Negative durations count as zero.
  void Record(absl::Duration latency);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  absl::Duration max() const { return absl::Microseconds(max_us_); }
  absl::Duration mean() const;
  // The latency that `percent` (0..100] of the samples are at or below;
  // zero when empty.
  absl::Duration Percentile(double percent) const;

 private:
  static int BucketOf(int64_t us);
  static int64_t HighestIn(int bucket);

  std::vector<int64_t> buckets_;
  int64_t count_ = 0;
  int64_t max_us_ = 0;
  double sum_us_ = 0;
};

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_LATENCY_HISTOGRAM_H_
