// RunFlat and RunCalls: the callback plumbing shared by the setup, the
// cleanup and the load itself.
#include "client/bench/call_runner.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace adaptd::bench {

void RunFlat(std::function<void()> fn) {
  thread_local std::deque<std::function<void()>>* pending = nullptr;
  if (pending != nullptr) {
    pending->push_back(std::move(fn));
    return;
  }
  std::deque<std::function<void()>> queue;
  pending = &queue;
  fn();
  while (!queue.empty()) {
    std::function<void()> next = std::move(queue.front());
    queue.pop_front();
    next();
  }
  pending = nullptr;
}

absl::Status RunCalls(int n, int parallel, std::function<void(int i, Done done)> start,
                      const std::string& what, const BenchOptions& options) {
  struct State {
    absl::Mutex mu;
    int next ABSL_GUARDED_BY(mu) = 0;
    int launched ABSL_GUARDED_BY(mu) = 0;
    int finished ABSL_GUARDED_BY(mu) = 0;
    absl::Status first_error ABSL_GUARDED_BY(mu);
    std::function<void(int, Done)> start;
    int n = 0;
  };
  auto state = std::make_shared<State>();
  state->start = std::move(start);
  state->n = n;
  // Launches the next call, if any; each answer launches another.
  std::shared_ptr<std::function<void()>> launch = std::make_shared<std::function<void()>>();
  std::weak_ptr<std::function<void()>> weak_launch = launch;
  *launch = [state, weak_launch] {
    int i;
    {
      absl::MutexLock lock(&state->mu);
      if (state->next >= state->n) return;
      i = state->next++;
      ++state->launched;
    }
    auto again = weak_launch.lock();
    state->start(i, [state, again](const absl::Status& status) {
      {
        absl::MutexLock lock(&state->mu);
        ++state->finished;
        if (!status.ok() && state->first_error.ok()) {
          state->first_error = status;
          state->next = state->n;  // Launch no more.
        }
      }
      if (again) RunFlat(*again);
    });
  };
  for (int i = 0; i < std::min(n, std::max(1, parallel)); ++i) RunFlat(*launch);
  absl::MutexLock lock(&state->mu);
  auto all_done = [](State* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
    return s->finished == s->launched && (s->next >= s->n);
  };
  while (!state->mu.AwaitWithTimeout(absl::Condition(+all_done, state.get()),
                                     options.progress_interval)) {
    if (options.progress) {
      const std::string line = absl::StrCat(what, ": ", state->finished, "/", n);
      state->mu.Unlock();
      options.progress(line);
      state->mu.Lock();
    }
  }
  if (options.progress && state->first_error.ok()) {
    options.progress(absl::StrCat(what, ": ", state->finished, "/", n, " done"));
  }
  return state->first_error;
}

}  // namespace adaptd::bench
