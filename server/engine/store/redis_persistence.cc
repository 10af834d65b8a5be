#include "server/engine/store/redis_persistence.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"

namespace adaptd::engine {
namespace {

// Removes the tenant's expired ids from its index; KEYS[ids, exp, size,
// bytes] are at offset `k`, the current time in ms is `now`.
constexpr char kPruneLua[] = R"lua(
local function prune(k, now)
  local dead = redis.call('ZRANGEBYSCORE', KEYS[k + 1], '-inf', now)
  for _, id in ipairs(dead) do
    redis.call('ZREM', KEYS[k], id)
    redis.call('ZREM', KEYS[k + 1], id)
    local s = redis.call('HGET', KEYS[k + 2], id)
    if s then
      redis.call('DECRBY', KEYS[k + 3], s)
      redis.call('HDEL', KEYS[k + 2], id)
    end
  end
end
)lua";

// KEYS: record, request, ids, exp, size, bytes, tombstone.
// ARGV: bytes, id, ttl_ms, expire_ms, now_ms, size, max_adapters, max_bytes,
//       has_request, record key prefix.
// Returns {0, id} stored (or already stored by a retry), {1, id} the request
// already made adapter id, {2, n} over the count quota, {3, n} over bytes,
// {4, id} refused: the write was taken back (Discard) before it arrived.
constexpr char kPutLua[] = R"lua(
if redis.call('EXISTS', KEYS[7]) == 1 then return {4, ARGV[2]} end
prune(3, ARGV[5])
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, ARGV[2]} end
if ARGV[9] == '1' then
  local prev = redis.call('GET', KEYS[2])
  if prev and redis.call('EXISTS', ARGV[10] .. prev) == 1 then return {1, prev} end
end
local count = redis.call('ZCARD', KEYS[3])
if tonumber(ARGV[7]) > 0 and count + 1 > tonumber(ARGV[7]) then
  return {2, tostring(count)}
end
local bytes = tonumber(redis.call('GET', KEYS[6]) or '0')
if tonumber(ARGV[8]) > 0 and bytes + tonumber(ARGV[6]) > tonumber(ARGV[8]) then
  return {3, tostring(bytes)}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
if ARGV[9] == '1' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
redis.call('ZADD', KEYS[3], 0, ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[2])
redis.call('HSET', KEYS[5], ARGV[2], ARGV[6])
redis.call('INCRBY', KEYS[6], ARGV[6])
for i = 3, 6 do
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[3]) then
    redis.call('PEXPIRE', KEYS[i], ARGV[3])
  end
end
return {0, ARGV[2]}
)lua";

// KEYS: record, request, ids, exp, size, bytes. ARGV: id, has_request.
constexpr char kDeleteLua[] = R"lua(
redis.call('DEL', KEYS[1])
if ARGV[2] == '1' and redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
local s = redis.call('HGET', KEYS[5], ARGV[1])
if s then
  redis.call('DECRBY', KEYS[6], s)
  redis.call('HDEL', KEYS[5], ARGV[1])
end
return 1
)lua";

// Discard: the delete above, after a tombstone that keeps a put of the same
// id that is still on its way from storing it.
// KEYS: record, request, ids, exp, size, bytes, tombstone.
// ARGV: id, has_request, tombstone ttl_ms.
constexpr char kTombstoneLua[] = R"lua(
redis.call('SET', KEYS[7], '1', 'PX', ARGV[3])
)lua";

// KEYS: ids, exp, size, bytes. ARGV: now_ms, lex start, limit, record key
// prefix. Returns {next_after, id, bytes, id, bytes, ...}.
constexpr char kListLua[] = R"lua(
prune(1, ARGV[1])
local limit = tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], '+', 'LIMIT', 0, limit + 1)
local next_after = ''
if #ids > limit then
  next_after = ids[limit]
  ids[limit + 1] = nil
end
local out = {next_after}
for _, id in ipairs(ids) do
  local record = redis.call('GET', ARGV[4] .. id)
  if record then
    table.insert(out, id)
    table.insert(out, record)
  else
    -- Gone without a Delete (evicted by Redis): drop it from the index.
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    local s = redis.call('HGET', KEYS[3], id)
    if s then
      redis.call('DECRBY', KEYS[4], s)
      redis.call('HDEL', KEYS[3], id)
    end
  end
end
return out
)lua";

timeval Timeval(absl::Duration d) {
  return absl::ToTimeval(std::max(d, absl::Milliseconds(1)));
}

// Redis errors that mean "not now" rather than a bug.
bool TransientError(absl::string_view message) {
  for (absl::string_view prefix :
       {"OOM", "READONLY", "LOADING", "BUSY", "MASTERDOWN", "NOREPLICAS", "TRYAGAIN",
        "CLUSTERDOWN"}) {
    if (absl::StartsWith(message, prefix)) return true;
  }
  return false;
}

int64_t UnixMillis(absl::Time t) { return absl::ToUnixMillis(t); }

CircuitBreaker::Options BreakerOptions(const RedisPersistence::Options& options) {
  CircuitBreaker::Options breaker;
  breaker.failures_to_open = options.failures_to_open;
  breaker.backoff = options.reconnect_backoff;
  breaker.max_backoff = options.max_backoff;
  breaker.clock = options.clock;
  breaker.name = absl::StrCat("redis ", options.address);
  breaker.on_change = options.on_health;
  return breaker;
}

}  // namespace

void RedisPersistence::ContextDeleter::operator()(redisContext* context) const {
  redisFree(context);
}

void RedisPersistence::ReplyDeleter::operator()(redisReply* reply) const {
  freeReplyObject(reply);
}

RedisPersistence::RedisPersistence(const Options& options, std::string host, int port)
    : options_(options),
      host_(std::move(host)),
      port_(port),
      breaker_([&] {
        CircuitBreaker::Options breaker = BreakerOptions(options);
        // The background thread starts probing when the breaker opens.
        breaker.on_change = [this](const CircuitBreaker::Change& change) {
          {
            absl::MutexLock lock(&rollback_mu_);
            rollback_cv_.Signal();
          }
          if (options_.on_health) options_.on_health(change);
        };
        return breaker;
      }()) {
  background_ = std::thread([this] { BackgroundLoop(); });
}

absl::StatusOr<std::unique_ptr<RedisPersistence>> RedisPersistence::Connect(
    const Options& options) {
  if (options.clock == nullptr) return absl::InvalidArgumentError("clock is null");
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError("redis: max_connections must be at least 1");
  }
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.command_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis_timeout: must be positive, got ",
                     absl::FormatDuration(std::min(options.connect_timeout,
                                                   options.command_timeout))));
  }
  RETURN_IF_ERROR(CircuitBreaker::Validate(BreakerOptions(options)));
  // host:port, the host in brackets for IPv6.
  const std::string& address = options.address;
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis_address: expected host:port, got \"", address, "\""));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<RedisPersistence> redis(new RedisPersistence(options, host, port));
  absl::StatusOr<ReplyPtr> pong = redis->Run({"PING"});
  if (!pong.ok()) {
    return absl::UnavailableError(absl::StrCat("redis_address: cannot use Redis at ", address,
                                               ": ", pong.status().message()));
  }
  return redis;
}

RedisPersistence::~RedisPersistence() {
  {
    absl::MutexLock lock(&rollback_mu_);
    stopping_ = true;
    rollback_cv_.SignalAll();
  }
  background_.join();
}

std::string RedisPersistence::Describe() const { return absl::StrCat("redis ", options_.address); }

absl::Status RedisPersistence::Unreachable(absl::string_view why) const {
  return absl::UnavailableError(absl::StrCat("adapter store: redis ", options_.address, ": ", why));
}

std::string RedisPersistence::AdapterKey(absl::string_view id) const {
  return absl::StrCat(options_.key_prefix, "a:", id);
}

std::string RedisPersistence::RequestKey(absl::string_view tenant,
                                         absl::string_view request_id) const {
  return absl::StrCat(options_.key_prefix, "r:", tenant.size(), ":", tenant, ":", request_id);
}

std::string RedisPersistence::TenantKey(absl::string_view tenant, absl::string_view what) const {
  return absl::StrCat(options_.key_prefix, "t:", tenant.size(), ":", tenant, ":", what);
}

std::array<std::string, 7> RedisPersistence::ScriptKeys(absl::string_view id,
                                                        const AdapterInfo& info) const {
  return {AdapterKey(id),
          info.request_id.empty() ? absl::StrCat(options_.key_prefix, "r:none")
                                  : RequestKey(info.tenant, info.request_id),
          TenantKey(info.tenant, "ids"),
          TenantKey(info.tenant, "exp"),
          TenantKey(info.tenant, "size"),
          TenantKey(info.tenant, "bytes"),
          absl::StrCat(options_.key_prefix, "x:", id)};
}

absl::StatusOr<RedisPersistence::ContextPtr> RedisPersistence::Dial(absl::Time deadline) {
  const absl::Duration left =
      std::min(options_.connect_timeout, deadline - options_.clock->Now());
  if (left <= absl::ZeroDuration()) {
    breaker_.Abandon();  // The call's time is up; Redis is not to blame.
    return Unreachable("timed out before connecting");
  }
  ContextPtr context(redisConnectWithTimeout(host_.c_str(), port_, Timeval(left)));
  std::string error;
  if (context == nullptr) {
    error = "cannot allocate a connection";
  } else if (context->err) {
    error = context->errstr;
  } else {
    redisEnableKeepAlive(context.get());
    return context;
  }
  breaker_.Failure(absl::UnavailableError(error));
  return Unreachable(error);
}

absl::StatusOr<std::pair<RedisPersistence::ContextPtr, bool>> RedisPersistence::Acquire(
    absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    while (idle_.empty() && open_ >= options_.max_connections) {
      const absl::Duration left = deadline - options_.clock->Now();
      // Waiters wake when a connection is dropped too, so that they see an
      // open breaker at once instead of at their deadline.
      if (left <= absl::ZeroDuration() || breaker_.state() == CircuitBreaker::State::kOpen) {
        breaker_.Abandon();
        return Unreachable(left > absl::ZeroDuration()
                               ? "unhealthy, failing fast"
                               : "timed out waiting for a free connection");
      }
      released_.WaitWithTimeout(&mu_, left);
    }
    if (!idle_.empty()) {
      ContextPtr context = std::move(idle_.back());
      idle_.pop_back();
      return std::make_pair(std::move(context), true);
    }
    ++open_;
  }
  absl::StatusOr<ContextPtr> context = Dial(deadline);
  if (!context.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
    released_.SignalAll();
    return context.status();
  }
  return std::make_pair(*std::move(context), false);
}

void RedisPersistence::Release(ContextPtr context, bool healthy) {
  {
    absl::MutexLock lock(&mu_);
    if (healthy) {
      idle_.push_back(std::move(context));
      released_.Signal();
    } else {
      --open_;
      released_.SignalAll();
    }
  }
  context.reset();  // A broken one is closed outside the lock.
}

RedisPersistence::ReplyPtr RedisPersistence::Send(redisContext* context,
                                                  const std::vector<absl::string_view>& args,
                                                  absl::Time deadline, std::string* error,
                                                  bool* closed_by_peer) {
  const absl::Duration left = deadline - options_.clock->Now();
  if (redisSetTimeout(context, Timeval(left)) != REDIS_OK) {
    *error = context->errstr[0] ? context->errstr : "cannot set the timeout";
    return nullptr;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (absl::string_view arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  ReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(
      context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
  if (reply != nullptr) return reply;
  *closed_by_peer = context->err == REDIS_ERR_EOF;
  const bool timed_out = context->err == REDIS_ERR_IO &&
                         (errno == EAGAIN || errno == EWOULDBLOCK ||
                          absl::StrContains(context->errstr, "temporarily unavailable"));
  *error = timed_out ? absl::StrCat("no answer within ",
                                    absl::FormatDuration(absl::Trunc(left, absl::Milliseconds(1))))
                     : (context->errstr[0] ? context->errstr : "connection lost");
  return nullptr;
}

absl::StatusOr<RedisPersistence::ReplyPtr> RedisPersistence::Run(
    const std::vector<absl::string_view>& args, absl::Time deadline, bool* unanswered,
    bool probe) {
  deadline = std::min(deadline, options_.clock->Now() + options_.command_timeout);
  for (int attempt = 0;; ++attempt) {
    RETURN_IF_ERROR(probe ? breaker_.AllowOrProbe() : breaker_.Allow());
    ASSIGN_OR_RETURN(auto acquired, Acquire(deadline));
    auto& [context, reused] = acquired;
    std::string error;
    bool closed_by_peer = false;
    ReplyPtr reply = Send(context.get(), args, deadline, &error, &closed_by_peer);
    if (reply == nullptr) {
      // The connection is broken (reset, timed out); it cannot be reused.
      if (unanswered != nullptr) *unanswered = true;
      Release(std::move(context), /*healthy=*/false);
      if (closed_by_peer && reused && attempt == 0 && options_.clock->Now() < deadline) {
        breaker_.Abandon();  // A pooled connection Redis had closed; try a fresh one.
        continue;
      }
      breaker_.Failure(absl::UnavailableError(error));
      return Unreachable(error);
    }
    Release(std::move(context), /*healthy=*/true);
    if (reply->type == REDIS_REPLY_ERROR) {
      const absl::string_view message(reply->str, reply->len);
      if (TransientError(message)) {
        breaker_.Failure(absl::UnavailableError(message));
        return Unreachable(message);
      }
      breaker_.Success();
      return absl::InternalError(absl::StrCat("adapter store: redis ", options_.address,
                                              " answered an error: ", message));
    }
    breaker_.Success();
    return reply;
  }
}

absl::StatusOr<std::string> RedisPersistence::Put(const AdapterInfo& info,
                                                  absl::string_view bytes,
                                                  const Quota& quota) {
  return PutBefore(info, bytes, quota, absl::InfiniteFuture());
}

absl::StatusOr<std::string> RedisPersistence::PutBefore(const AdapterInfo& info,
                                                        absl::string_view bytes,
                                                        const Quota& quota, absl::Time deadline) {
  const std::string& id = info.adapter_id;
  if (!IsValidAdapterId(id)) {
    return absl::InvalidArgumentError(absl::StrCat("adapter_id \"", id, "\" is not storable"));
  }
  const absl::Time now = options_.clock->Now();
  const int64_t ttl_ms =
      std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(info.expire_time - now,
                                                                 absl::Milliseconds(1))));
  const std::string script = absl::StrCat(kPruneLua, kPutLua);
  const bool has_request = !info.request_id.empty();
  const std::array<std::string, 7> keys = ScriptKeys(id, info);
  const std::string ttl = absl::StrCat(ttl_ms);
  const std::string expire = absl::StrCat(UnixMillis(info.expire_time));
  const std::string now_ms = absl::StrCat(UnixMillis(now));
  const std::string size = absl::StrCat(info.size_bytes);
  const std::string max_adapters = absl::StrCat(std::max<int64_t>(0, quota.max_adapters));
  const std::string max_bytes = absl::StrCat(std::max<int64_t>(0, quota.max_bytes));
  const std::string prefix = AdapterKey("");
  bool unanswered = false;
  absl::StatusOr<ReplyPtr> reply =
      Run({"EVAL", script, "7", keys[0], keys[1], keys[2], keys[3], keys[4], keys[5], keys[6],
           bytes, id, ttl, expire, now_ms, size, max_adapters, max_bytes,
           has_request ? "1" : "0", prefix},
          deadline, &unanswered);
  if (!reply.ok() && unanswered) return WriteOutcomeUnknown(reply.status().message());
  if (!reply.ok()) return reply.status();
  const redisReply* r = reply->get();
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING) {
    return absl::InternalError("adapter store: unexpected reply to the put script");
  }
  const std::string value(r->element[1]->str, r->element[1]->len);
  switch (r->element[0]->integer) {
    case 0:
    case 1:
      return value;
    case 2:
      return TenantOverQuota(info.tenant, quota.max_adapters, "adapters");
    case 3:
      return TenantOverQuota(info.tenant, quota.max_bytes, "bytes");
    case 4:
      return absl::AbortedError(
          absl::StrCat("adapter store: adapter \"", id, "\" was discarded before it was stored"));
  }
  return absl::InternalError("adapter store: unexpected code from the put script");
}

void RedisPersistence::Discard(const AdapterInfo& info) {
  if (!IsValidAdapterId(info.adapter_id)) return;
  absl::MutexLock lock(&rollback_mu_);
  rollbacks_.push_back(info);
  rollback_cv_.Signal();
}

int RedisPersistence::pending_discards() const {
  absl::MutexLock lock(&rollback_mu_);
  return static_cast<int>(rollbacks_.size()) + rolling_back_;
}

absl::Status RedisPersistence::Rollback(const AdapterInfo& info) {
  const bool has_request = !info.request_id.empty();
  const std::array<std::string, 7> keys = ScriptKeys(info.adapter_id, info);
  // The tombstone lives as long as the put could still store the adapter.
  const absl::Duration left = info.expire_time - options_.clock->Now();
  const std::string ttl = absl::StrCat(std::max<int64_t>(
      1, absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)))));
  const std::string script = absl::StrCat(kTombstoneLua, kDeleteLua);
  return Run({"EVAL", script, "7", keys[0], keys[1], keys[2], keys[3], keys[4], keys[5], keys[6],
              info.adapter_id, has_request ? "1" : "0", ttl},
             absl::InfiniteFuture(), nullptr, /*probe=*/true)
      .status();
}

void RedisPersistence::BackgroundLoop() {
  absl::MutexLock lock(&rollback_mu_);
  while (!stopping_) {
    const bool healthy = breaker_.healthy();
    if (healthy && rollbacks_.empty()) {
      rollback_cv_.Wait(&rollback_mu_);
      continue;
    }
    const absl::Duration wait = breaker_.next_probe() - options_.clock->Now();
    if (!healthy && wait > absl::ZeroDuration()) {
      rollback_cv_.WaitWithTimeout(&rollback_mu_, wait);
      continue;
    }
    if (!rollbacks_.empty()) {
      RollbackFirst();  // Also the probe, when one is due.
      continue;
    }
    rollback_mu_.Unlock();
    // Its outcome goes to the breaker, which is all that a probe is for.
    Run({"PING"}, absl::InfiniteFuture(), nullptr, /*probe=*/true).IgnoreError();
    rollback_mu_.Lock();
  }
}

void RedisPersistence::RollbackFirst() {
  AdapterInfo info = std::move(rollbacks_.front());
  rollbacks_.pop_front();
  ++rolling_back_;
  rollback_mu_.Unlock();
  absl::Status status = Rollback(info);
  rollback_mu_.Lock();
  --rolling_back_;
  // Kept while Redis does not answer; past its expiry the adapter is gone by
  // its TTL anyway.
  if (absl::IsUnavailable(status) && info.expire_time > options_.clock->Now()) {
    rollbacks_.push_front(std::move(info));
    // While the breaker is open, BackgroundLoop waits for the next probe;
    // while it is closed (one failure is not enough to open it), retry soon.
    if (breaker_.healthy()) rollback_cv_.WaitWithTimeout(&rollback_mu_, absl::Milliseconds(20));
  }
}

absl::StatusOr<std::string> RedisPersistence::Get(const std::string& adapter_id) {
  auto not_found = [&] {
    return absl::NotFoundError(absl::StrCat("adapter \"", adapter_id, "\" is not stored"));
  };
  if (!IsValidAdapterId(adapter_id)) return not_found();
  ASSIGN_OR_RETURN(ReplyPtr reply, Run({"GET", AdapterKey(adapter_id)}));
  if (reply->type == REDIS_REPLY_NIL) return not_found();
  if (reply->type != REDIS_REPLY_STRING) {
    return absl::InternalError("adapter store: unexpected reply to GET");
  }
  return std::string(reply->str, reply->len);
}

absl::StatusOr<bool> RedisPersistence::Exists(const std::string& adapter_id) {
  if (!IsValidAdapterId(adapter_id)) return false;
  ASSIGN_OR_RETURN(ReplyPtr reply, Run({"EXISTS", AdapterKey(adapter_id)}));
  if (reply->type != REDIS_REPLY_INTEGER) {
    return absl::InternalError("adapter store: unexpected reply to EXISTS");
  }
  return reply->integer > 0;
}

absl::StatusOr<std::string> RedisPersistence::FindByRequestId(const std::string& tenant,
                                                              const std::string& request_id) {
  ASSIGN_OR_RETURN(ReplyPtr reply, Run({"GET", RequestKey(tenant, request_id)}));
  if (reply->type == REDIS_REPLY_NIL) {
    return absl::NotFoundError("no adapter for this request_id");
  }
  if (reply->type != REDIS_REPLY_STRING) {
    return absl::InternalError("adapter store: unexpected reply to GET");
  }
  return std::string(reply->str, reply->len);
}

absl::Status RedisPersistence::Delete(const AdapterInfo& info) {
  if (!IsValidAdapterId(info.adapter_id)) return absl::OkStatus();
  const bool has_request = !info.request_id.empty();
  const std::array<std::string, 7> keys = ScriptKeys(info.adapter_id, info);
  return Run({"EVAL", kDeleteLua, "6", keys[0], keys[1], keys[2], keys[3], keys[4], keys[5],
              info.adapter_id, has_request ? "1" : "0"})
      .status();
}

absl::StatusOr<AdapterPersistence::ListChunk> RedisPersistence::List(const std::string& tenant,
                                                                     const std::string& after,
                                                                     int limit) {
  const std::string script = absl::StrCat(kPruneLua, kListLua);
  const std::string start = after.empty() ? "-" : absl::StrCat("(", after);
  const std::string now_ms = absl::StrCat(UnixMillis(options_.clock->Now()));
  const std::string count = absl::StrCat(std::max(1, limit));
  ASSIGN_OR_RETURN(ReplyPtr reply,
                   Run({"EVAL", script, "4", TenantKey(tenant, "ids"), TenantKey(tenant, "exp"),
                        TenantKey(tenant, "size"), TenantKey(tenant, "bytes"), now_ms, start,
                        count, AdapterKey("")}));
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 1) {
    return absl::InternalError("adapter store: unexpected reply to the list script");
  }
  ListChunk chunk;
  for (size_t i = 0; i < reply->elements; ++i) {
    if (reply->element[i]->type != REDIS_REPLY_STRING) {
      return absl::InternalError("adapter store: unexpected reply to the list script");
    }
  }
  chunk.next_after.assign(reply->element[0]->str, reply->element[0]->len);
  for (size_t i = 1; i + 1 < reply->elements; i += 2) {
    chunk.records.push_back({std::string(reply->element[i]->str, reply->element[i]->len),
                             std::string(reply->element[i + 1]->str,
                                         reply->element[i + 1]->len)});
  }
  return chunk;
}

absl::Status RedisPersistence::LoadAll(const std::function<void(AdapterRecord)>&) {
  return absl::OkStatus();
}

}  // namespace adaptd::engine
