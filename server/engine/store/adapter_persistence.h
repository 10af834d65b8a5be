// Where adapters live durably, behind AdapterStore's bounded in-memory cache.
// Two backends implement it:
//   - DirectoryPersistence: one file per adapter on local disk, one process;
//   - RedisPersistence: one Redis shared by every replica.
// The memory backend is no persistence at all (the store alone).
//
// Records are opaque bytes (adapter_codec.h's format); the metadata a backend
// needs for TTL, quotas, listing and idempotency comes with each Put as
// AdapterInfo. Every backend expires a record at info.expire_time by itself,
// and keeps the idempotency key (tenant, request_id) -> adapter_id with the
// same lifetime. Implementations are thread-safe.
//
//   ASSIGN_OR_RETURN(auto persistence, OpenAdapterPersistence(options, clock));
//   ASSIGN_OR_RETURN(std::string id, persistence->Put(info, bytes, quota));
#ifndef ADAPTD_SERVER_ENGINE_STORE_ADAPTER_PERSISTENCE_H_
#define ADAPTD_SERVER_ENGINE_STORE_ADAPTER_PERSISTENCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/common/clock.h"
#include "server/engine/base/types.h"

namespace adaptd::engine {

// The payload type URL that marks a write of unknown outcome.
inline constexpr char kWriteOutcomePayload[] = "type.adaptd/write-outcome";

struct AdapterRecord {
  std::string adapter_id;
  std::string bytes;
};

class AdapterPersistence {
 public:
  // Per-tenant limits checked atomically with a Put; 0 means none.
  struct Quota {
    int64_t max_adapters = 0;
    int64_t max_bytes = 0;
  };

  struct ListChunk {
    std::vector<AdapterRecord> records;  // In adapter_id order.
    // Pass as `after` for the next chunk; empty once there is no more.
    std::string next_after;
  };

  virtual ~AdapterPersistence() = default;

  // For logs: "directory /var/lib/adaptd", "redis 10.0.0.5:6379".
  virtual std::string Describe() const = 0;

  // True when other processes write the same records, so an adapter cached
  // here may be deleted elsewhere and must be confirmed before use.
  virtual bool shared() const = 0;

  // Stores `bytes` under info.adapter_id durably before it returns. If
  // info.request_id is set and the tenant already has a live adapter for it,
  // stores nothing and returns that adapter's id; else returns
  // info.adapter_id.
  // RESOURCE_EXHAUSTED over `quota`; UNAVAILABLE when the backend cannot
  // write (disk full, read-only, Redis down): then nothing is stored, unless
  // IsWriteOutcomeUnknown(status) (see PutBefore).
  virtual absl::StatusOr<std::string> Put(const AdapterInfo& info, absl::string_view bytes,
                                          const Quota& quota) = 0;

  // Put, given up at `deadline` too. A write that was sent but whose answer
  // did not come in time (a timeout, a lost connection) returns
  // WriteOutcomeUnknown(): it may or may not have been applied. Backends
  // that cannot be stalled (the directory) ignore the deadline.
  virtual absl::StatusOr<std::string> PutBefore(const AdapterInfo& info, absl::string_view bytes,
                                                const Quota& quota, absl::Time /*deadline*/) {
    return Put(info, bytes, quota);
  }

  // Takes back a Put whose outcome was unknown or that finished too late for
  // its caller: removes the adapter if it was stored, and keeps that Put
  // from storing it if it is still on its way. Returns at once; a backend
  // that cannot reach its store now does it as soon as it can.
  virtual void Discard(const AdapterInfo& info) { Delete(info).IgnoreError(); }

  // Whether calls go through now: false while the backend fails fast after
  // failures (see circuit_breaker.h). Backends without a remote store are
  // always healthy.
  virtual bool healthy() const { return true; }

  // The record's bytes; NOT_FOUND if absent or expired.
  virtual absl::StatusOr<std::string> Get(const std::string& adapter_id) = 0;

  // Whether a live record exists.
  virtual absl::StatusOr<bool> Exists(const std::string& adapter_id) = 0;

  // The id of the live adapter `tenant` created with `request_id`; NOT_FOUND
  // if none.
  virtual absl::StatusOr<std::string> FindByRequestId(const std::string& tenant,
                                                      const std::string& request_id) = 0;

  // Removes the record and its idempotency key. OK if it is already gone.
  virtual absl::Status Delete(const AdapterInfo& info) = 0;

  // Up to `limit` live records of `tenant` with ids after `after` (empty:
  // from the first).
  virtual absl::StatusOr<ListChunk> List(const std::string& tenant, const std::string& after,
                                         int limit) = 0;

  // Calls `visit` for every live record, to warm a cache at start. Backends
  // that are better read lazily (Redis) visit nothing.
  virtual absl::Status LoadAll(const std::function<void(AdapterRecord)>& visit) = 0;
};

// Whether `adapter_id` is safe as a file name and a key part: 1 to 128
// characters of [A-Za-z0-9_-]. Others cannot be stored, so they are NOT_FOUND.
inline bool IsValidAdapterId(absl::string_view adapter_id) {
  if (adapter_id.empty() || adapter_id.size() > 128) return false;
  for (char c : adapter_id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// An UNAVAILABLE status for a write whose outcome is unknown, marked so that
// IsWriteOutcomeUnknown() tells it from one that never started.
inline absl::Status WriteOutcomeUnknown(absl::string_view message) {
  absl::Status status = absl::UnavailableError(message);
  status.SetPayload(kWriteOutcomePayload, absl::Cord("unknown"));
  return status;
}

inline bool IsWriteOutcomeUnknown(const absl::Status& status) {
  return status.GetPayload(kWriteOutcomePayload).has_value();
}

// RESOURCE_EXHAUSTED "tenant \"x\" is over its quota of N adapters"; `what` is
// "adapters" or "bytes".
inline absl::Status TenantOverQuota(absl::string_view tenant, int64_t limit,
                                    absl::string_view what) {
  return absl::ResourceExhaustedError(
      absl::StrCat("tenant \"", tenant, "\" is over its quota of ", limit, " ", what));
}

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_STORE_ADAPTER_PERSISTENCE_H_
