// The run loop: sends a Workload's requests to a Target through the warm-up
// and the measured window, closed-loop (options.concurrency clients, each
// sending when its last request is answered) or open-loop (on an
// ArrivalProcess's schedule, whatever the answers do); lays faults on top;
// counts the answers into LoadStats; reports progress; and waits for every
// answer. Internal to adaptd_bench.
//
//   auto runner = std::make_shared<LoadRunner>(options, target, workload, faults);
//   runner->Run();
//   runner->Fill(report);
#ifndef ADAPTD_CLIENT_BENCH_LOAD_RUNNER_H_
#define ADAPTD_CLIENT_BENCH_LOAD_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/bench/bench.h"
#include "client/bench/faults.h"
#include "client/bench/load_stats.h"
#include "client/bench/target.h"
#include "client/bench/workload.h"

namespace adaptd::bench {

// One measured run. The callbacks of its requests share it, so it must be
// made with std::make_shared. Thread-safe; Run once.
class LoadRunner : public std::enable_shared_from_this<LoadRunner> {
 public:
  // All four must outlive Run, which waits for every answer.
  LoadRunner(const BenchOptions& options, Target& target, const Workload& workload,
             const FaultInjector& faults);

  // Runs the warm-up and the measured window, and waits for every request.
  void Run();

  // After Run: fills the measured part of `report`.
  void Fill(Report& report);

  // Adapters made by Adapt requests, for the cleanup.
  std::vector<TenantAdapter> TakeCreated();

 private:
  bool open_loop() const { return options_.rate > 0; }
  bool AllDone() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return scheduler_done_ && outstanding_ == 0 && active_ == 0;
  }

  // Closed loop: starts the clients, each sending its first request now.
  void StartClients();
  // Open loop: sends at the intended times until the window ends.
  void Schedule();
  // Reports progress every options_.progress_interval until AllDone.
  void WaitForAnswers();
  // Sends request number seq_++; `intended` is when it should have gone.
  void Send(absl::Time intended);
  // The answer to a request; `created` is the adapter an Adapt made.
  void Finish(OpKind op, absl::Time intended, bool counted, const absl::Status& status,
              TenantAdapter created);

  const BenchOptions& options_;
  Target& target_;
  const Workload& workload_;
  const FaultInjector& faults_;
  // Set by Run before any request.
  absl::Time start_, warm_end_, end_;
  std::atomic<uint64_t> seq_{0};

  absl::Mutex mu_;
  LoadStats stats_ ABSL_GUARDED_BY(mu_);
  int64_t faults_injected_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t skipped_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<TenantAdapter> created_ ABSL_GUARDED_BY(mu_);
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t active_ ABSL_GUARDED_BY(mu_) = 0;  // Closed-loop clients still sending.
  bool scheduler_done_ ABSL_GUARDED_BY(mu_) = false;
  // Every answer, warm-up included, for the progress line.
  int64_t completed_all_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t errors_all_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_LOAD_RUNNER_H_
