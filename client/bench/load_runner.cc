// The run loop: closed- and open-loop sending, the answers, and progress
// (load_runner.h).
#include "client/bench/load_runner.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/bench/arrival.h"
#include "client/bench/call_runner.h"

namespace adaptd::bench {

LoadRunner::LoadRunner(const BenchOptions& options, Target& target, const Workload& workload,
                       const FaultInjector& faults)
    : options_(options), target_(target), workload_(workload), faults_(faults) {}

void LoadRunner::Run() {
  start_ = absl::Now();
  warm_end_ = start_ + options_.warmup;
  end_ = warm_end_ + options_.duration;
  std::thread scheduler;
  if (open_loop()) {
    scheduler = std::thread([self = shared_from_this()] { self->Schedule(); });
  } else {
    StartClients();
  }
  WaitForAnswers();
  if (scheduler.joinable()) scheduler.join();
}

void LoadRunner::Fill(Report& report) {
  absl::MutexLock lock(&mu_);
  stats_.Fill(options_.duration, report);
  report.skipped = skipped_;
  report.faults_injected = faults_injected_;
}

std::vector<TenantAdapter> LoadRunner::TakeCreated() {
  absl::MutexLock lock(&mu_);
  return std::move(created_);
}

void LoadRunner::StartClients() {
  {
    absl::MutexLock lock(&mu_);
    active_ = options_.concurrency;
    scheduler_done_ = true;
  }
  for (int i = 0; i < options_.concurrency; ++i) {
    RunFlat([self = shared_from_this()] { self->Send(self->start_); });
  }
}

void LoadRunner::Schedule() {
  ArrivalProcess arrivals(options_.arrival, options_.rate, options_.seed);
  for (absl::Time next = start_; next < end_; next += arrivals.NextGap()) {
    const absl::Duration wait = next - absl::Now();
    if (wait > absl::Microseconds(50)) absl::SleepFor(wait);
    bool send;
    {
      absl::MutexLock lock(&mu_);
      send = outstanding_ < options_.max_outstanding;
      if (!send && next >= warm_end_) ++skipped_;
    }
    if (send) RunFlat([self = shared_from_this(), next] { self->Send(next); });
  }
  absl::MutexLock lock(&mu_);
  scheduler_done_ = true;
}

void LoadRunner::WaitForAnswers() {
  int64_t last_completed = 0;
  absl::Time last_time = start_;
  while (true) {
    std::string line;
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(this, &LoadRunner::AllDone),
                               options_.progress_interval)) {
        return;
      }
      const absl::Time now = absl::Now();
      const double rps = static_cast<double>(completed_all_ - last_completed) /
                         std::max(1e-9, absl::ToDoubleSeconds(now - last_time));
      last_completed = completed_all_;
      last_time = now;
      line = absl::StrFormat("%-7s %6.1fs/%.1fs  requests %d  rps %.1f  errors %d  in flight %d",
                             now < warm_end_ ? "warmup" : now < end_ ? "measure" : "drain",
                             absl::ToDoubleSeconds(now - start_),
                             absl::ToDoubleSeconds(end_ - start_), completed_all_, rps,
                             errors_all_, outstanding_);
    }
    if (options_.progress) options_.progress(line);
  }
}

void LoadRunner::Send(absl::Time intended) {
  const uint64_t k = seq_.fetch_add(1, std::memory_order_relaxed);
  const bool counted = intended >= warm_end_ && intended < end_;
  const bool fault = faults_.Hits(k);
  {
    absl::MutexLock lock(&mu_);
    ++outstanding_;
    if (counted && fault) ++faults_injected_;
  }
  auto self = shared_from_this();
  if (workload_.Kind(k) == OpKind::kAdapt) {
    AdaptCall call = workload_.Adapt(k);
    if (fault) faults_.Spoil(call);
    target_.Adapt(call, [self, intended, counted, tenant = call.tenant](
                            const absl::Status& status, const std::string& adapter_id) {
      self->Finish(OpKind::kAdapt, intended, counted, status, {tenant, adapter_id});
    });
  } else {
    PredictCall call = workload_.Predict(k);
    if (fault) faults_.Spoil(call);
    target_.Predict(call, [self, intended, counted](const absl::Status& status) {
      self->Finish(OpKind::kPredict, intended, counted, status, {});
    });
  }
}

void LoadRunner::Finish(OpKind op, absl::Time intended, bool counted, const absl::Status& status,
                        TenantAdapter created) {
  const absl::Time now = absl::Now();
  bool next = false;
  {
    absl::MutexLock lock(&mu_);
    ++completed_all_;
    if (!status.ok()) ++errors_all_;
    if (status.ok() && !created.second.empty()) created_.push_back(std::move(created));
    if (counted) stats_.Record(op, status, now - intended);
    --outstanding_;
    if (!open_loop()) {
      next = now < end_;
      if (!next) --active_;  // This client is done.
    }
  }
  // Sent as of `now`, which is inside the window, so a closed loop with no
  // warm-up counts every request it sends.
  if (next) RunFlat([self = shared_from_this(), now] { self->Send(now); });
}

}  // namespace adaptd::bench
