// A real redis-server (the Debian package) for tests, on a free loopback
// port, without persistence; killed when the object goes or the test process
// dies (frozen or not).
//
//   if (!RedisServer::Available()) GTEST_SKIP() << "redis-server is not installed";
//   auto redis = RedisServer::Start();
//   ASSERT_TRUE(redis.ok()) << redis.status();
//   options.redis_address = (*redis)->address();
#ifndef ADAPTD_TESTS_TEST_UTIL_REDIS_SERVER_H_
#define ADAPTD_TESTS_TEST_UTIL_REDIS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/test_util/subprocess.h"

namespace adaptd::testing {

class RedisServer {
 public:
  // Whether redis-server is installed.
  static bool Available();
  // Starts one and waits until it answers PING.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start();
  ~RedisServer();

  int port() const { return port_; }
  std::string address() const;
  // SIGKILLs it: Redis is gone mid-run.
  void Kill();
  // Starts a fresh (empty) one on the same port after Kill().
  absl::Status Restart();
  // SIGSTOPs it: Redis hangs. The kernel still accepts connections and
  // buffers commands, which it runs once Thaw() SIGCONTs it.
  void Freeze();
  void Thaw();
  // Runs one command through redis-cli; its output.
  std::string Cli(const std::string& args) const;

 private:
  RedisServer() = default;
  // Starts redis-server on `port`; false if it exited (the port was taken).
  absl::Status Launch(int port);
  int port_ = 0;
  std::string dir_;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace adaptd::testing

#endif  // ADAPTD_TESTS_TEST_UTIL_REDIS_SERVER_H_
