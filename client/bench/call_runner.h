// Running asynchronous Target calls from their callbacks: RunFlat keeps a
// chain of callbacks that start the next call off the stack, and RunCalls
// runs a fixed number of calls a few at a time (the setup and the cleanup).
// Internal to adaptd_bench.
#ifndef ADAPTD_CLIENT_BENCH_CALL_RUNNER_H_
#define ADAPTD_CLIENT_BENCH_CALL_RUNNER_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "client/bench/bench.h"
#include "client/bench/target.h"

namespace adaptd::bench {

// Runs `fn` now or, when this thread is already inside RunFlat, once the
// outer call's function returns. A target may run a callback inline, and a
// callback starts the next request, so this keeps the stack flat.
void RunFlat(std::function<void()> fn);

// Runs start(0..n-1), at most `parallel` at once, each answering through its
// Done; stops launching after the first error, which it returns. Reports
// "<what>: i/n" through options.progress every options.progress_interval,
// and "<what>: n/n done" at the end. Returns when every launched call has
// answered.
absl::Status RunCalls(int n, int parallel, std::function<void(int i, Done done)> start,
                      const std::string& what, const BenchOptions& options);

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_CALL_RUNNER_H_
