#include "server/engine/store/circuit_breaker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace adaptd::engine {

absl::Status CircuitBreaker::Validate(const Options& options) {
  if (options.failures_to_open < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "circuit breaker: failures_to_open must be at least 1, got ", options.failures_to_open));
  }
  if (options.backoff <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("circuit breaker: backoff must be positive, got ",
                                                   absl::FormatDuration(options.backoff)));
  }
  if (options.max_backoff < options.backoff) {
    return absl::InvalidArgumentError(
        absl::StrCat("circuit breaker: max_backoff (", absl::FormatDuration(options.max_backoff),
                     ") must be at least backoff (", absl::FormatDuration(options.backoff), ")"));
  }
  if (options.clock == nullptr) return absl::InvalidArgumentError("circuit breaker: clock is null");
  return absl::OkStatus();
}

CircuitBreaker::CircuitBreaker(Options options)
    : options_(std::move(options)), backoff_(options_.backoff) {}

absl::Status CircuitBreaker::Allow() {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kClosed) return absl::OkStatus();
  return FailFastLocked(options_.clock->Now());
}

absl::Status CircuitBreaker::AllowOrProbe() {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kClosed) return absl::OkStatus();
  const absl::Time now = options_.clock->Now();
  if (!probe_out_ && now >= open_until_) {
    state_ = State::kHalfOpen;
    probe_out_ = true;
    return absl::OkStatus();
  }
  return FailFastLocked(now);
}

absl::Status CircuitBreaker::FailFastLocked(absl::Time now) const {
  const absl::Duration wait = std::max(absl::ZeroDuration(), open_until_ - now);
  return absl::UnavailableError(absl::StrCat(
      "adapter store: ", options_.name, " is unhealthy (", last_failure_.message(),
      "); failing fast, next try in ", absl::FormatDuration(absl::Ceil(wait, absl::Milliseconds(1)))));
}

void CircuitBreaker::Success() {
  Change change;
  {
    absl::MutexLock lock(&mu_);
    failures_ = 0;
    probe_out_ = false;
    backoff_ = options_.backoff;
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    change.healthy = true;
    change.duration = options_.clock->Now() - unhealthy_since_;
    open_until_ = absl::InfinitePast();
  }
  if (options_.on_change) options_.on_change(change);
}

void CircuitBreaker::Failure(const absl::Status& cause) {
  Change change;
  {
    absl::MutexLock lock(&mu_);
    last_failure_ = cause;
    const absl::Time now = options_.clock->Now();
    switch (state_) {
      case State::kClosed:
        if (++failures_ < options_.failures_to_open) return;
        unhealthy_since_ = now;
        change.healthy = false;
        change.cause = cause;
        change.duration = OpenLocked(now);
        break;
      case State::kHalfOpen:
        // The probe failed: stay unhealthy, wait longer. Calls that were let
        // through before the breaker opened change nothing.
        if (probe_out_) {
          backoff_ = std::min(backoff_ * 2, options_.max_backoff);
          OpenLocked(now);
        }
        return;
      case State::kOpen:
        return;
    }
  }
  if (options_.on_change) options_.on_change(change);
}

void CircuitBreaker::Abandon() {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kHalfOpen && probe_out_) {
    probe_out_ = false;
    state_ = State::kOpen;  // open_until_ has passed: the next call probes.
  }
}

absl::Duration CircuitBreaker::OpenLocked(absl::Time now) {
  state_ = State::kOpen;
  probe_out_ = false;
  failures_ = 0;
  open_until_ = now + backoff_;
  return backoff_;
}

CircuitBreaker::State CircuitBreaker::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

absl::Time CircuitBreaker::next_probe() const {
  absl::MutexLock lock(&mu_);
  return state_ == State::kClosed ? absl::InfinitePast() : open_until_;
}

}  // namespace adaptd::engine
