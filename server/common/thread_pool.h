// Threads for the whole project: a pool of workers fed from a queue, and a
// parallel loop over an index range. Thread-safe.
//
//   ThreadPool pool({.threads = 4, .max_queued = 1024});
//   if (!pool.TrySchedule([] { Work(); })) { /* shed the load */ }
//
//   ParallelFor(n, /*threads=*/0, [&](int i, int worker) { Render(i, worker); });
#ifndef ADAPTD_SERVER_COMMON_THREAD_POOL_H_
#define ADAPTD_SERVER_COMMON_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace adaptd {

// The number of cores, at least 1.
int HardwareThreads();

// A fixed pool of worker threads. A bounded pool never blocks its callers:
// a full queue refuses the work at once, so overload is shed instead of
// growing memory and latency. Thread-safe.
class ThreadPool {
 public:
  struct Options {
    // Worker threads; at least 1.
    int threads = 1;
    // Most queued (not yet running) items; 0: no bound.
    int max_queued = 0;
  };
  explicit ThreadPool(const Options& options);
  // Runs everything already queued, then joins the threads.
  ~ThreadPool();

  // Queues `work`; false (and `work` not run) when the queue is full or
  // shutting down.
  bool TrySchedule(std::function<void()> work);

 private:
  void Loop();

  const int max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// Calls body(i, worker) once for each i in [0, n), over `threads` threads
// (0: HardwareThreads(), never more than n), the calling thread being worker
// 0. Indices are handed out in order, one at a time; `worker` (in
// [0, threads)) lets the body keep per-thread state. Returns when every call
// has returned.
void ParallelFor(int n, int threads, const std::function<void(int i, int worker)>& body);

}  // namespace adaptd

#endif  // ADAPTD_SERVER_COMMON_THREAD_POOL_H_
