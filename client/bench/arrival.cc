// The open loop's gaps between sends (arrival.h).
#include "client/bench/arrival.h"

#include <cmath>

#include "client/bench/synthetic_inputs.h"

namespace adaptd::bench {

ArrivalProcess::ArrivalProcess(Arrival arrival, double rate, uint64_t seed)
    : arrival_(arrival), mean_gap_s_(1.0 / rate), state_(Mix64(seed ^ 0x6a09e667f3bcc908ULL)) {}

absl::Duration ArrivalProcess::NextGap() {
  double gap = mean_gap_s_;
  if (arrival_ == Arrival::kPoisson) {
    state_ = Mix64(state_);
    gap = -std::log1p(-UnitInterval(state_)) * mean_gap_s_;
  }
  return absl::Seconds(gap);
}

}  // namespace adaptd::bench
