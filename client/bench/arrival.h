// The open loop's arrival process (BenchOptions::rate and ::arrival): the
// gaps between intended send times, exponential (Poisson arrivals) or
// fixed, drawn from the seed alone. Internal to adaptd_bench.
//
//   ArrivalProcess arrivals(Arrival::kPoisson, /*rate=*/500, /*seed=*/1);
//   for (absl::Time t = start; t < end; t += arrivals.NextGap()) Send(t);
#ifndef ADAPTD_CLIENT_BENCH_ARRIVAL_H_
#define ADAPTD_CLIENT_BENCH_ARRIVAL_H_

#include <cstdint>

#include "absl/time/time.h"
#include "client/bench/bench.h"

namespace adaptd::bench {

// Not thread-safe: one scheduler draws from it.
class ArrivalProcess {
 public:
  // REQUIRES: rate > 0 (requests per second).
  ArrivalProcess(Arrival arrival, double rate, uint64_t seed);

  // The gap after the current send time; their mean is 1 / rate.
  absl::Duration NextGap();

 private:
  const Arrival arrival_;
  const double mean_gap_s_;
  uint64_t state_;
};

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_ARRIVAL_H_
