// The circuit breaker in front of Redis, on an injected clock: when it
// opens, how it fails fast, its half-open probe, the growing back-off and
// the health changes it reports. No I/O.
#include "server/engine/store/circuit_breaker.h"

#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace adaptd::engine {
namespace {

using ::testing::HasSubstr;
using State = CircuitBreaker::State;

class CircuitBreakerTest : public ::testing::Test {
 protected:
  CircuitBreaker::Options Options(int failures_to_open = 2) {
    CircuitBreaker::Options options;
    options.failures_to_open = failures_to_open;
    options.backoff = absl::Milliseconds(250);
    options.max_backoff = absl::Seconds(1);
    options.clock = &clock_;
    options.name = "redis 10.0.0.5:6379";
    options.on_change = [this](const CircuitBreaker::Change& change) {
      changes_.push_back(change);
    };
    return options;
  }

  static absl::Status Timeout() { return absl::UnavailableError("no answer within 1s"); }

  FakeClock clock_;
  std::vector<CircuitBreaker::Change> changes_;
};

TEST_F(CircuitBreakerTest, OpensOnlyAfterFailuresInARow) {
  CircuitBreaker breaker(Options(/*failures_to_open=*/2));
  ASSERT_TRUE(breaker.Allow().ok());
  breaker.Failure(Timeout());
  breaker.Success();  // Resets the count.
  breaker.Failure(Timeout());
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.Allow().ok());
  EXPECT_TRUE(changes_.empty());
  breaker.Failure(Timeout());
  EXPECT_EQ(breaker.state(), State::kOpen);
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_FALSE(changes_[0].healthy);
  EXPECT_EQ(changes_[0].cause, Timeout());
  EXPECT_EQ(changes_[0].duration, absl::Milliseconds(250));
}

TEST_F(CircuitBreakerTest, FailsFastWhileOpenNamingTheStoreAndTheCause) {
  CircuitBreaker breaker(Options(1));
  breaker.Failure(Timeout());
  clock_.Advance(absl::Milliseconds(100));
  absl::Status status = breaker.Allow();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()), HasSubstr("redis 10.0.0.5:6379 is unhealthy"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("no answer within 1s"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("next try in 150ms"));
  EXPECT_EQ(breaker.next_probe(), clock_.Now() + absl::Milliseconds(150));
}

TEST_F(CircuitBreakerTest, AfterTheBackoffOneProbeGoesThroughAndItsSuccessCloses) {
  CircuitBreaker breaker(Options(1));
  breaker.Failure(Timeout());
  clock_.Advance(absl::Milliseconds(250));
  EXPECT_FALSE(breaker.Allow().ok()) << "calls that must not wait never probe";
  ASSERT_TRUE(breaker.AllowOrProbe().ok());  // The probe.
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
  EXPECT_EQ(breaker.AllowOrProbe().code(), absl::StatusCode::kUnavailable);  // One at a time.
  EXPECT_EQ(breaker.Allow().code(), absl::StatusCode::kUnavailable);
  clock_.Advance(absl::Milliseconds(40));
  breaker.Success();
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.Allow().ok());
  EXPECT_TRUE(breaker.Allow().ok());
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_TRUE(changes_[1].healthy);
  EXPECT_EQ(changes_[1].duration, absl::Milliseconds(290));  // Unhealthy for that long.
}

TEST_F(CircuitBreakerTest, FailedProbesDoubleTheBackoffUpToTheMaximum) {
  CircuitBreaker breaker(Options(1));
  breaker.Failure(Timeout());
  std::vector<absl::Duration> backoffs;
  for (int i = 0; i < 4; ++i) {
    const absl::Duration wait = breaker.next_probe() - clock_.Now();
    backoffs.push_back(wait);
    clock_.Advance(wait - absl::Milliseconds(1));
    EXPECT_FALSE(breaker.AllowOrProbe().ok()) << "probe " << i << " came early";
    clock_.Advance(absl::Milliseconds(1));
    ASSERT_TRUE(breaker.AllowOrProbe().ok());
    breaker.Failure(Timeout());
    EXPECT_EQ(breaker.state(), State::kOpen);
  }
  EXPECT_EQ(backoffs, (std::vector<absl::Duration>{absl::Milliseconds(250),
                                                   absl::Milliseconds(500), absl::Seconds(1),
                                                   absl::Seconds(1)}));
  EXPECT_EQ(changes_.size(), 1u);  // Still the one change: unhealthy.
  // A success restores the first back-off for the next outage.
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(breaker.AllowOrProbe().ok());
  breaker.Success();
  breaker.Failure(Timeout());
  EXPECT_EQ(breaker.next_probe() - clock_.Now(), absl::Milliseconds(250));
}

TEST_F(CircuitBreakerTest, AnAbandonedProbeLetsTheNextCallProbe) {
  CircuitBreaker breaker(Options(1));
  breaker.Failure(Timeout());
  clock_.Advance(absl::Milliseconds(250));
  ASSERT_TRUE(breaker.AllowOrProbe().ok());
  EXPECT_FALSE(breaker.AllowOrProbe().ok());
  breaker.Abandon();
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_TRUE(breaker.AllowOrProbe().ok());
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
}

TEST_F(CircuitBreakerTest, FailuresOfCallsAlreadyInFlightDoNotExtendAnOpenBreaker) {
  CircuitBreaker breaker(Options(1));
  ASSERT_TRUE(breaker.Allow().ok());
  ASSERT_TRUE(breaker.Allow().ok());
  breaker.Failure(Timeout());
  const absl::Time probe = breaker.next_probe();
  clock_.Advance(absl::Milliseconds(100));
  breaker.Failure(Timeout());  // The second call, timing out a little later.
  EXPECT_EQ(breaker.next_probe(), probe);
  EXPECT_EQ(changes_.size(), 1u);
}

TEST_F(CircuitBreakerTest, BadOptionsAreNamed) {
  auto options = Options();
  options.failures_to_open = 0;
  EXPECT_THAT(std::string(CircuitBreaker::Validate(options).message()),
              HasSubstr("failures_to_open must be at least 1, got 0"));
  options = Options();
  options.backoff = absl::ZeroDuration();
  EXPECT_THAT(std::string(CircuitBreaker::Validate(options).message()),
              HasSubstr("backoff must be positive"));
  options = Options();
  options.max_backoff = absl::Milliseconds(100);
  EXPECT_THAT(std::string(CircuitBreaker::Validate(options).message()),
              HasSubstr("max_backoff (100ms) must be at least backoff (250ms)"));
  EXPECT_TRUE(CircuitBreaker::Validate(Options()).ok());
}

}  // namespace
}  // namespace adaptd::engine
