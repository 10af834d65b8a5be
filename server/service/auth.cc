#include "server/service/auth.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace adaptd::service {
namespace {

absl::StatusOr<absl::flat_hash_map<std::string, std::string>> ReadTokens(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("auth_token_file: cannot read ", path));
  absl::flat_hash_map<std::string, std::string> tenants;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    std::vector<std::string> fields = absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "auth_token_file: ", path, ":", number, ": expected \"<token> <tenant>\""));
    }
    tenants[fields[0]] = fields[1];
  }
  return tenants;
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::FromFile(
    const std::string& path, std::function<void(const std::string&)> log) {
  std::unique_ptr<TokenAuthenticator> auth(new TokenAuthenticator(path, std::move(log)));
  absl::Status status = auth->ReloadIfChanged();
  if (!status.ok()) return status;
  return auth;
}

absl::Status TokenAuthenticator::ReloadIfChanged() {
  struct stat now = {};
  if (stat(path_.c_str(), &now) != 0) {
    return absl::NotFoundError(absl::StrCat("auth_token_file: cannot stat ", path_));
  }
  {
    absl::MutexLock lock(&mu_);
    if (SameFile(now, seen_)) return absl::OkStatus();
  }
  auto tenants = ReadTokens(path_);
  if (!tenants.ok()) return tenants.status();
  absl::MutexLock lock(&mu_);
  tenants_ = *std::move(tenants);
  seen_ = now;
  return absl::OkStatus();
}

absl::StatusOr<std::string> TokenAuthenticator::Authenticate(absl::string_view authorization) {
  bool recheck = false;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now - last_check_ >= recheck_) {
      last_check_ = now;
      recheck = true;
    }
  }
  // A malformed edit keeps the tokens that were valid before it.
  if (recheck) {
    absl::Status reloaded = ReloadIfChanged();
    if (!reloaded.ok() && log_) {
      log_(absl::StrCat("keeping the previous tokens: ", reloaded.message()));
    }
  }
  if (authorization.empty()) {
    return absl::UnauthenticatedError("authorization: missing; send \"Bearer <token>\"");
  }
  absl::string_view token = authorization;
  if (!absl::ConsumePrefix(&token, "Bearer ") && !absl::ConsumePrefix(&token, "bearer ")) {
    return absl::UnauthenticatedError("authorization: expected \"Bearer <token>\"");
  }
  token = absl::StripAsciiWhitespace(token);
  absl::MutexLock lock(&mu_);
  auto it = tenants_.find(token);
  if (it == tenants_.end()) return absl::UnauthenticatedError("authorization: unknown token");
  return it->second;
}

}  // namespace adaptd::service
