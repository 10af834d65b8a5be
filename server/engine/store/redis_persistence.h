// Adapters in one Redis shared by every adaptd replica, through hiredis.
//
// Keys (P is Options::key_prefix, T is "<len(tenant)>:<tenant>"):
//   P a:<id>              the record (adapter_codec.h), SET ... PX ttl
//   P r:T:<request_id>    -> <id>, the idempotency key, same PX
//   P t:T:ids             sorted set, score 0: the tenant's ids in id order
//   P t:T:exp             sorted set, score expire ms: for pruning
//   P t:T:size            hash id -> size_bytes
//   P t:T:bytes           the tenant's total bytes
// Every write is one Lua script, so the idempotency check, the quota check
// (on the counts in Redis: exact across replicas) and the write are atomic.
// A record expires by its key's TTL; the tenant's index sets are pruned of
// expired ids by the next Put or List of that tenant. The index keys expire
// with the tenant's longest-lived adapter.
//
// Runs against a standalone Redis (or a primary), not Redis Cluster: the
// scripts touch keys they do not declare. Configure Redis with
// maxmemory-policy noeviction: an evicted record is a lost adapter.
//
// Connections: a small pool. Every call is bounded end to end by
// Options::command_timeout (and by a Put's deadline): waiting for a pooled
// connection, dialling and the round trip share that one budget. A
// connection that fails is dropped; a command that found its pooled
// connection closed by Redis is retried once on a fresh one (every command
// here is safe to repeat).
//
// Failing fast: a circuit breaker (circuit_breaker.h) counts failed dials,
// timed-out or lost commands and "not now" errors alike; once open, calls
// fail with UNAVAILABLE at once, so a hung Redis costs the calls in flight
// one timeout, and no others any. Calls never probe: a background thread
// tries Redis after each back-off (with a pending Discard, or a PING) and
// closes the breaker when it answers. Options::on_health hears each change.
//
// A Put that was sent but not answered in time returns WriteOutcomeUnknown:
// a frozen Redis may still apply it when it resumes. Discard() takes such a
// write back: a background thread deletes the adapter and leaves a
// tombstone key (with the adapter's TTL) that makes the put script refuse
// the write if it arrives later, whatever the order. Discards not yet done
// when the process exits are lost; the adapter then lives until its TTL.
// Thread-safe.
#ifndef ADAPTD_SERVER_ENGINE_STORE_REDIS_PERSISTENCE_H_
#define ADAPTD_SERVER_ENGINE_STORE_REDIS_PERSISTENCE_H_

#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/store/adapter_persistence.h"
#include "server/engine/store/circuit_breaker.h"
#include "server/common/clock.h"

struct redisContext;
struct redisReply;

namespace adaptd::engine {

class RedisPersistence : public AdapterPersistence {
 public:
  struct Options {
    // host:port ("[::1]:6379" for IPv6).
    std::string address = "127.0.0.1:6379";
    // Limit on dialling; and on each call end to end (waiting for a
    // connection, dialling, the round trip).
    absl::Duration connect_timeout = absl::Seconds(1);
    absl::Duration command_timeout = absl::Seconds(1);
    // Failures in a row (failed dials, timed-out or lost commands, "not
    // now" errors) after which calls fail fast.
    int failures_to_open = 2;
    // How long calls then fail fast before Redis is tried again (in the
    // background); doubled after each failed try, up to max_backoff.
    absl::Duration reconnect_backoff = absl::Milliseconds(250);
    absl::Duration max_backoff = absl::Seconds(5);
    // Prefix of every key.
    std::string key_prefix = "adaptd:";
    // Most connections open at once.
    int max_connections = 4;
    // Time source for TTLs; not owned. Should be the real clock: Redis
    // expires keys by its own.
    Clock* clock = Clock::Real();
    // Hears Redis become unhealthy (calls fail fast) and healthy again; from
    // the thread whose call saw it, outside any lock. May be empty.
    std::function<void(const CircuitBreaker::Change&)> on_health;
  };

  // Dials and pings Redis: UNAVAILABLE naming the address if it cannot.
  static absl::StatusOr<std::unique_ptr<RedisPersistence>> Connect(const Options& options);
  ~RedisPersistence() override;

  std::string Describe() const override;
  bool shared() const override { return true; }
  absl::StatusOr<std::string> Put(const AdapterInfo& info, absl::string_view bytes,
                                  const Quota& quota) override;
  absl::StatusOr<std::string> PutBefore(const AdapterInfo& info, absl::string_view bytes,
                                        const Quota& quota, absl::Time deadline) override;
  void Discard(const AdapterInfo& info) override;
  bool healthy() const override { return breaker_.healthy(); }
  // Discards not yet applied to Redis.
  int pending_discards() const;
  absl::StatusOr<std::string> Get(const std::string& adapter_id) override;
  absl::StatusOr<bool> Exists(const std::string& adapter_id) override;
  absl::StatusOr<std::string> FindByRequestId(const std::string& tenant,
                                              const std::string& request_id) override;
  absl::Status Delete(const AdapterInfo& info) override;
  absl::StatusOr<ListChunk> List(const std::string& tenant, const std::string& after,
                                 int limit) override;
  // Visits nothing: replicas fill their caches on demand.
  absl::Status LoadAll(const std::function<void(AdapterRecord)>& visit) override;

 private:
  struct ContextDeleter {
    void operator()(redisContext* context) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
  struct ReplyDeleter {
    void operator()(redisReply* reply) const;
  };
  using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

  RedisPersistence(const Options& options, std::string host, int port);

  // One command, given up at `deadline` or after command_timeout, whichever
  // comes first; UNAVAILABLE when Redis cannot be reached, does not answer
  // in time, answers with a transient error or the breaker is open;
  // INTERNAL for any other error reply. `*unanswered` (may be null) is set
  // when the command went out but no answer came back. Only the background
  // thread passes `probe`: its call may be the breaker's probe.
  absl::StatusOr<ReplyPtr> Run(const std::vector<absl::string_view>& args,
                               absl::Time deadline = absl::InfiniteFuture(),
                               bool* unanswered = nullptr, bool probe = false);
  // A pooled connection and whether it was used before; UNAVAILABLE at
  // `deadline`, or when dialling fails (counted by the breaker).
  absl::StatusOr<std::pair<ContextPtr, bool>> Acquire(absl::Time deadline);
  absl::StatusOr<ContextPtr> Dial(absl::Time deadline);
  void Release(ContextPtr context, bool healthy);
  // Sends one command on `context` within `deadline`; null on a lost or
  // timed-out connection, with `*error` saying why.
  ReplyPtr Send(redisContext* context, const std::vector<absl::string_view>& args,
                absl::Time deadline, std::string* error, bool* closed_by_peer);
  // Deletes the adapter and leaves its tombstone.
  absl::Status Rollback(const AdapterInfo& info);
  // The background thread: applies Discard()s, and probes Redis after each
  // back-off while the breaker is open.
  void BackgroundLoop();
  // Applies the first pending Discard; keeps it queued if Redis did not
  // answer. REQUIRES: one is pending.
  void RollbackFirst() ABSL_EXCLUSIVE_LOCKS_REQUIRED(rollback_mu_);

  std::string AdapterKey(absl::string_view id) const;
  std::string RequestKey(absl::string_view tenant, absl::string_view request_id) const;
  std::string TenantKey(absl::string_view tenant, absl::string_view what) const;
  // The seven keys the put, delete and rollback scripts touch for one
  // adapter: its record, its request id (a placeholder without one), its
  // tenant's ids, expiries, count and bytes, and its tombstone (delete
  // leaves that one out).
  std::array<std::string, 7> ScriptKeys(absl::string_view id, const AdapterInfo& info) const;
  absl::Status Unreachable(absl::string_view why) const;

  const Options options_;
  const std::string host_;
  const int port_;
  CircuitBreaker breaker_;
  absl::Mutex mu_;
  absl::CondVar released_;
  std::vector<ContextPtr> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // Idle, in use or being dialled.

  // The background thread's work: pending Discards; it is woken when one
  // comes and when the breaker opens.
  mutable absl::Mutex rollback_mu_;
  absl::CondVar rollback_cv_;
  std::deque<AdapterInfo> rollbacks_ ABSL_GUARDED_BY(rollback_mu_);
  int rolling_back_ ABSL_GUARDED_BY(rollback_mu_) = 0;  // Taken off the queue, not done.
  bool stopping_ ABSL_GUARDED_BY(rollback_mu_) = false;
  std::thread background_;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_STORE_REDIS_PERSISTENCE_H_
