// What adaptd-bench drives: adaptd over gRPC, or the engine in process. Both
// take the same calls and answer through a callback, so the load generator
// and its statistics are shared and the two modes compare like with like.
#ifndef ADAPTD_CLIENT_BENCH_TARGET_H_
#define ADAPTD_CLIENT_BENCH_TARGET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/bench/synthetic_inputs.h"
#include "server/engine/base/types.h"

namespace adaptd::bench {

struct BackboneSpec {
  std::string name;
  std::string modality = "image";    // "image" or "text".
  std::vector<int64_t> input_shape;  // [C,H,W]; empty for text.
  std::vector<engine::Method> methods;
};

struct SupportExample {
  std::string label;
  const Input* input = nullptr;  // Owned by the caller until the callback.
};

struct AdaptCall {
  int tenant = 0;  // Which of the target's tenants() sends it.
  std::string backbone;
  std::vector<SupportExample> support;
  engine::Method method = engine::Method::kUnspecified;
  int steps = 0;                                 // 0: the method's default.
  absl::Duration ttl = absl::ZeroDuration();     // 0: the server's default.
  absl::Duration timeout = absl::InfiniteDuration();
};

struct PredictCall {
  int tenant = 0;
  std::string adapter_id;
  std::vector<const Input*> inputs;  // Owned by the caller until the callback.
  int top_k = 0;
  absl::Duration timeout = absl::InfiniteDuration();
};

// An adapter id and the index of the tenant that owns it.
using TenantAdapter = std::pair<int, std::string>;

// Receives the adapter id when the status is OK.
using AdaptDone = std::function<void(const absl::Status&, const std::string& adapter_id)>;
using Done = std::function<void(const absl::Status&)>;

// Thread-safe. Each call returns soon and runs `done` exactly once, on any
// thread, possibly before the call returns. Errors carry the server's
// status code.
class Target {
 public:
  virtual ~Target() = default;

  // "grpc localhost:50051" or "inprocess cpu": for the report.
  virtual std::string Describe() const = 0;
  // How many tenants calls can be sent as (tenant 0..tenants()-1); each
  // sees only its own adapters. At least 1.
  virtual int tenants() const = 0;
  virtual absl::StatusOr<std::vector<BackboneSpec>> ListBackbones() = 0;
  virtual void Adapt(const AdaptCall& call, AdaptDone done) = 0;
  virtual void Predict(const PredictCall& call, Done done) = 0;
  virtual void DeleteAdapter(int tenant, const std::string& adapter_id,
                             absl::Duration timeout, Done done) = 0;
};

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_TARGET_H_
