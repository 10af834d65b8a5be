#include "server/common/thread_pool.h"

#include <algorithm>
#include <atomic>

namespace adaptd {

int HardwareThreads() {
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

ThreadPool::ThreadPool(const Options& options) : max_queued_(options.max_queued) {
  for (int i = 0; i < std::max(1, options.threads); ++i) threads_.emplace_back([this] { Loop(); });
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& t : threads_) t.join();
}

bool ThreadPool::TrySchedule(std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || (max_queued_ > 0 && static_cast<int>(queue_.size()) >= max_queued_)) {
    return false;
  }
  queue_.push_back(std::move(work));
  return true;
}

void ThreadPool::Loop() {
  for (;;) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ThreadPool* q)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) { return q->stopping_ || !q->queue_.empty(); },
          this));
      if (queue_.empty()) return;  // Stopping and drained.
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }
}

void ParallelFor(int n, int threads, const std::function<void(int i, int worker)>& body) {
  if (n <= 0) return;
  threads = std::min(threads > 0 ? threads : HardwareThreads(), n);
  std::atomic<int> next{0};
  auto run = [&](int worker) {
    for (int i = next++; i < n; i = next++) body(i, worker);
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < threads; ++w) pool.emplace_back(run, w);
  run(0);
  for (auto& t : pool) t.join();
}

}  // namespace adaptd
