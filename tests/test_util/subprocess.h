// A child process for tests: started with fork/exec, its stdout and stderr
// sent to a log file, killed with the test process (PR_SET_DEATHSIG). Not
// thread-safe.
//
//   ASSIGN_OR_RETURN(auto child, Subprocess::Start({"/bin/sleep", "10"}, log));
//   child->Kill(SIGKILL);
#ifndef ADAPTD_TESTS_TEST_UTIL_SUBPROCESS_H_
#define ADAPTD_TESTS_TEST_UTIL_SUBPROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace adaptd::testing {

class Subprocess {
 public:
  // Runs argv[0] (searched in PATH if it has no '/'), output appended to
  // `log_path` ("" for /dev/null).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const std::string& log_path);
  // Kills (SIGKILL) and reaps it if it still runs.
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // Whether it has not exited yet (reaps it if it has).
  bool Running();
  // Sends `signal` and waits for the exit. Returns the wait status.
  int Kill(int signal);
  // Waits up to `timeout` for it to exit; the wait status, or
  // DEADLINE_EXCEEDED.
  absl::StatusOr<int> Wait(absl::Duration timeout);

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool exited_ = false;
  int status_ = 0;
};

// The full path of `name` in PATH, or "" if it is not there.
std::string FindProgram(const std::string& name);

// A loopback TCP port that was free a moment ago.
int PickUnusedPort();

// Polls `condition` every few milliseconds until it is true or `timeout`
// passes; returns whether it became true. For waiting on other processes,
// where no notification exists.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout);

// The whole content of a file, or "" if it cannot be read.
std::string ReadWholeFile(const std::string& path);

}  // namespace adaptd::testing

#endif  // ADAPTD_TESTS_TEST_UTIL_SUBPROCESS_H_
