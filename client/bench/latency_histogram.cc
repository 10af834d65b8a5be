#include "client/bench/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace adaptd::bench {
namespace {

// Values below 2*kHalf microseconds get a bucket each; above, every power of
// two is split into kHalf linear buckets.
constexpr int kSubBits = 8;
constexpr int64_t kHalf = int64_t{1} << kSubBits;  // 256
constexpr int kMaxShift = 40;                       // 2^48 us: about 9 years.
constexpr int kBuckets = 2 * kHalf + kMaxShift * kHalf;

int HighestBit(uint64_t v) { return 63 - __builtin_clzll(v); }

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

int LatencyHistogram::BucketOf(int64_t us) {
  if (us < 2 * kHalf) return static_cast<int>(us);
  const int shift = std::min(HighestBit(static_cast<uint64_t>(us)) - kSubBits, kMaxShift);
  const int64_t sub = std::min(us >> shift, 2 * kHalf - 1);  // [kHalf, 2*kHalf)
  return static_cast<int>(2 * kHalf + (shift - 1) * kHalf + (sub - kHalf));
}

int64_t LatencyHistogram::HighestIn(int bucket) {
  if (bucket < 2 * kHalf) return bucket;
  const int shift = (bucket - 2 * kHalf) / kHalf + 1;
  const int64_t sub = (bucket - 2 * kHalf) % kHalf + kHalf;
  return ((sub + 1) << shift) - 1;
}

void LatencyHistogram::Record(absl::Duration latency) {
  const int64_t us = std::max<int64_t>(0, absl::ToInt64Microseconds(latency));
  ++buckets_[BucketOf(us)];
  ++count_;
  max_us_ = std::max(max_us_, us);
  sum_us_ += static_cast<double>(us);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_us_ = std::max(max_us_, other.max_us_);
  sum_us_ += other.sum_us_;
}

absl::Duration LatencyHistogram::mean() const {
  if (count_ == 0) return absl::ZeroDuration();
  return absl::Microseconds(sum_us_ / static_cast<double>(count_));
}

absl::Duration LatencyHistogram::Percentile(double percent) const {
  if (count_ == 0) return absl::ZeroDuration();
  const double fraction = std::clamp(percent, 0.0, 100.0) / 100.0;
  const int64_t rank =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(fraction * static_cast<double>(count_))));
  int64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return absl::Microseconds(std::min(HighestIn(i), max_us_));
  }
  return max();
}

}  // namespace adaptd::bench
