// A fixed pool of worker threads fed from a bounded queue. Callers never
// block: a full queue refuses the work at once, so overload is shed instead
// of growing memory and latency. Thread-safe.
#ifndef ADAPTD_SERVER_ENGINE_WORK_QUEUE_H_
#define ADAPTD_SERVER_ENGINE_WORK_QUEUE_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace adaptd::engine {

class WorkQueue {
 public:
  // REQUIRES: threads >= 1, max_queued >= 1.
  WorkQueue(int threads, int max_queued);
  // Runs everything already queued, then joins the threads.
  ~WorkQueue();

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

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_WORK_QUEUE_H_
