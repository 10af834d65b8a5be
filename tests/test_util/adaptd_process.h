// The real adaptd binary as a child process, and a stub to it: for tests of
// what only a whole process shows (SIGKILL, restarts, several replicas).
// Not thread-safe; stub() may be used from many threads.
#ifndef ADAPTD_TESTS_TEST_UTIL_ADAPTD_PROCESS_H_
#define ADAPTD_TESTS_TEST_UTIL_ADAPTD_PROCESS_H_

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adaptd/v1/adaptd.grpc.pb.h"
#include "tests/test_util/subprocess.h"

namespace adaptd::testing {

class AdaptdProcess {
 public:
  // Starts `binary` with `flags`, its output in `log`, and waits (up to 120 s)
  // for "serving on port N". UNAVAILABLE with the log when it does not
  // start; NOT_FOUND if it has no --adapter_store flag.
  static absl::StatusOr<std::unique_ptr<AdaptdProcess>> Start(
      const std::string& binary, const std::vector<std::string>& flags, const std::string& log);

  v1::AdaptationService::Stub& stub() { return *stub_; }
  void Kill() { process_->Kill(SIGKILL); }
  void Terminate() { process_->Kill(SIGTERM); }
  absl::StatusOr<int> Wait(absl::Duration timeout) { return process_->Wait(timeout); }

 private:
  AdaptdProcess() = default;
  std::unique_ptr<Subprocess> process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AdaptationService::Stub> stub_;
};

}  // namespace adaptd::testing

#endif  // ADAPTD_TESTS_TEST_UTIL_ADAPTD_PROCESS_H_
