// Bearer tokens mapped to tenants, read from a token file that may change
// while adaptd runs. Thread-safe.
//
// The file has one "<token> <tenant>" pair per line; blank lines and lines
// starting with '#' are ignored:
//
//   # token                            tenant
//   3f9c0a8e-acme-prod                 acme
//   77b1d2c4-globex                    globex
#ifndef ADAPTD_SERVER_SERVICE_AUTH_H_
#define ADAPTD_SERVER_SERVICE_AUTH_H_

#include <sys/stat.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace adaptd::service {

class TokenAuthenticator {
 public:
  // INVALID_ARGUMENT naming the line for a malformed file; NOT_FOUND if it
  // cannot be read.
  // `log` hears about a changed file that could not be read (may be empty).
  static absl::StatusOr<std::unique_ptr<TokenAuthenticator>> FromFile(
      const std::string& path, std::function<void(const std::string&)> log = nullptr);

  // The tenant for an `authorization` header value "Bearer <token>";
  // UNAUTHENTICATED when it is missing, malformed or unknown. Re-reads the
  // file first when it changed (checked at most every `recheck`).
  absl::StatusOr<std::string> Authenticate(absl::string_view authorization);

  // Re-reads the file if it changed since the last read. A file that has
  // become malformed keeps the previous tokens and returns the error.
  absl::Status ReloadIfChanged();

  // How often Authenticate looks at the file; zero: every call.
  void set_recheck(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    recheck_ = d;
  }

 private:
  TokenAuthenticator(std::string path, std::function<void(const std::string&)> log)
      : path_(std::move(path)), log_(std::move(log)) {}

  const std::string path_;
  const std::function<void(const std::string&)> log_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> tenants_ ABSL_GUARDED_BY(mu_);
  struct stat seen_ ABSL_GUARDED_BY(mu_) = {};
  absl::Time last_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration recheck_ ABSL_GUARDED_BY(mu_) = absl::Seconds(1);
};

}  // namespace adaptd::service

#endif  // ADAPTD_SERVER_SERVICE_AUTH_H_
