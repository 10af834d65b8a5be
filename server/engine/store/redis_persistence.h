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
// Connections: a small pool, each with connect and command timeouts. A
// connection that fails is dropped and a fresh one is dialled on the next
// call; a command that failed on a reused connection is retried once on a
// fresh one (every command here is safe to repeat). After a failed dial,
// calls fail fast with UNAVAILABLE for Options::reconnect_backoff.
// Thread-safe.
#ifndef ADAPTD_SERVER_ENGINE_STORE_REDIS_PERSISTENCE_H_
#define ADAPTD_SERVER_ENGINE_STORE_REDIS_PERSISTENCE_H_

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/store/adapter_persistence.h"
#include "server/common/clock.h"

struct redisContext;
struct redisReply;

namespace adaptd::engine {

class RedisPersistence : public AdapterPersistence {
 public:
  struct Options {
    // host:port ("[::1]:6379" for IPv6).
    std::string address = "127.0.0.1:6379";
    // Limit on dialling, and on each command's round trip.
    absl::Duration connect_timeout = absl::Seconds(1);
    absl::Duration command_timeout = absl::Seconds(1);
    // After a failed dial, how long calls fail fast before dialling again.
    absl::Duration reconnect_backoff = absl::Milliseconds(250);
    // Prefix of every key.
    std::string key_prefix = "adaptd:";
    // Most connections open at once.
    int max_connections = 4;
    // Time source for TTLs; not owned. Should be the real clock: Redis
    // expires keys by its own.
    Clock* clock = Clock::Real();
  };

  // Dials and pings Redis: UNAVAILABLE naming the address if it cannot.
  static absl::StatusOr<std::unique_ptr<RedisPersistence>> Connect(const Options& options);
  ~RedisPersistence() override;

  std::string Describe() const override;
  bool shared() const override { return true; }
  absl::StatusOr<std::string> Put(const AdapterInfo& info, absl::string_view bytes,
                                  const Quota& quota) override;
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

  RedisPersistence(const Options& options, std::string host, int port)
      : options_(options), host_(std::move(host)), port_(port) {}

  // One command; UNAVAILABLE when Redis cannot be reached or answers with a
  // transient error, INTERNAL for any other error reply.
  absl::StatusOr<ReplyPtr> Run(const std::vector<absl::string_view>& args);
  // A pooled connection and whether it was used before, or UNAVAILABLE.
  absl::StatusOr<std::pair<ContextPtr, bool>> Acquire();
  void Release(ContextPtr context, bool healthy);

  std::string AdapterKey(absl::string_view id) const;
  std::string RequestKey(absl::string_view tenant, absl::string_view request_id) const;
  std::string TenantKey(absl::string_view tenant, absl::string_view what) const;
  // The six keys the put and delete scripts touch for one adapter: its
  // record, its request id (a placeholder without one), and its tenant's
  // ids, expiries, count and bytes.
  std::array<std::string, 6> ScriptKeys(absl::string_view id, const AdapterInfo& info) const;
  absl::Status Unreachable(absl::string_view why) const;

  const Options options_;
  const std::string host_;
  const int port_;
  absl::Mutex mu_;
  absl::CondVar released_;
  std::vector<ContextPtr> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // Idle, in use or being dialled.
  absl::Time dial_after_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string last_dial_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_STORE_REDIS_PERSISTENCE_H_
