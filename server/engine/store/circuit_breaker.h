// A circuit breaker for calls to a remote store: after `failures_to_open`
// failures in a row (a refused or timed-out connect, a command that timed out
// or lost its connection, a "not now" error), calls fail fast for a back-off
// instead of each waiting out its timeout. When the back-off has passed, one
// probe is let through (half-open): its success closes the breaker, its
// failure opens it again for twice as long, up to max_backoff. Calls that
// must not wait take Allow(), which never probes; a background prober (or
// any caller that may wait) takes AllowOrProbe(). Thread-safe.
//
//   CircuitBreaker breaker(options);
//   RETURN_IF_ERROR(breaker.Allow());
//   absl::Status status = CallRedis();
//   status.ok() ? breaker.Success() : breaker.Failure(status);
#ifndef ADAPTD_SERVER_ENGINE_STORE_CIRCUIT_BREAKER_H_
#define ADAPTD_SERVER_ENGINE_STORE_CIRCUIT_BREAKER_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/clock.h"

namespace adaptd::engine {

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  // A change between healthy (closed) and unhealthy (open or half-open).
  struct Change {
    bool healthy = true;
    // Unhealthy: the failure that opened it. Healthy: empty.
    absl::Status cause;
    // Healthy: how long it was unhealthy. Unhealthy: the first back-off.
    absl::Duration duration;
  };

  struct Options {
    // Failures in a row that open the breaker; at least 1.
    int failures_to_open = 1;
    // How long calls fail fast after it opens; doubled after each failed
    // probe, up to max_backoff. Positive, and max_backoff >= backoff.
    absl::Duration backoff = absl::Milliseconds(250);
    absl::Duration max_backoff = absl::Seconds(5);
    // Time source; not owned.
    Clock* clock = Clock::Real();
    // For errors and log lines: "redis 10.0.0.5:6379".
    std::string name = "store";
    // Called, outside the breaker's lock, on every change between healthy
    // and unhealthy. May be empty.
    std::function<void(const Change&)> on_change;
  };

  // INVALID_ARGUMENT naming the bad option.
  static absl::Status Validate(const Options& options);
  // REQUIRES: Validate(options).ok().
  explicit CircuitBreaker(Options options);

  // OK while closed; else UNAVAILABLE, at once, naming the last failure and
  // when the next probe is due.
  absl::Status Allow();
  // Allow, and also OK when open with its back-off over and no probe out:
  // this call becomes the probe, and must be followed by Success, Failure
  // or Abandon.
  absl::Status AllowOrProbe();
  void Success();
  void Failure(const absl::Status& cause);
  // The allowed call ended without reaching the store (it ran out of time
  // waiting for a connection): no verdict. A probe's slot is freed.
  void Abandon();

  State state() const;
  bool healthy() const { return state() == State::kClosed; }
  // When a probe may next go out; InfinitePast while closed.
  absl::Time next_probe() const;

 private:
  // Opens (or re-opens) the breaker; returns the back-off chosen.
  absl::Duration OpenLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status FailFastLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kClosed;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;           // In a row.
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_);     // The current one.
  absl::Time open_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time unhealthy_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool probe_out_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_STORE_CIRCUIT_BREAKER_H_
