#include "tests/test_util/redis_server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::testing {
namespace {

// Whether something on 127.0.0.1:port answers PING with PONG.
bool Pongs(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const char ping[] = "PING\r\n";
    char buf[16] = {0};
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (write(fd, ping, sizeof(ping) - 1) == sizeof(ping) - 1 && read(fd, buf, 7) > 0) {
      ok = std::string(buf).rfind("+PONG", 0) == 0;
    }
  }
  close(fd);
  return ok;
}

}  // namespace

bool RedisServer::Available() { return !FindProgram("redis-server").empty(); }

absl::Status RedisServer::Launch(int port) {
  auto process = Subprocess::Start(
      {"redis-server", "--port", absl::StrCat(port), "--bind", "127.0.0.1", "--save", "",
       "--appendonly", "no", "--dir", dir_, "--daemonize", "no"},
      dir_ + "/redis.log");
  if (!process.ok()) return process.status();
  const bool up =
      WaitFor([&] { return !(*process)->Running() || Pongs(port); }, absl::Seconds(10)) &&
      (*process)->Running();
  if (!up) {
    return absl::UnavailableError(absl::StrCat("redis-server on port ", port,
                                               " did not start: ",
                                               ReadWholeFile(dir_ + "/redis.log")));
  }
  port_ = port;
  process_ = *std::move(process);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start() {
  std::unique_ptr<RedisServer> redis(new RedisServer());
  redis->dir_ = MakeTempDir("adaptd_redis");
  absl::Status status;
  // The port is free when picked, but another process may take it first.
  for (int attempt = 0; attempt < 5; ++attempt) {
    status = redis->Launch(PickUnusedPort());
    if (status.ok()) return redis;
  }
  return status;
}

absl::Status RedisServer::Restart() {
  Kill();
  return Launch(port_);
}

RedisServer::~RedisServer() {
  process_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string RedisServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

void RedisServer::Kill() {
  if (process_) process_->Kill(SIGKILL);
}

void RedisServer::Freeze() {
  if (process_) kill(process_->pid(), SIGSTOP);
}

void RedisServer::Thaw() {
  if (process_) kill(process_->pid(), SIGCONT);
}

std::string RedisServer::Cli(const std::string& args) const {
  const std::string cli = FindProgram("redis-cli");
  if (cli.empty()) return "";
  const std::string command = absl::StrCat(cli, " -p ", port_, " ", args, " 2>&1");
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
    pclose(pipe);
  }
  return out;
}

}  // namespace adaptd::testing
