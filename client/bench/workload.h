// The scenarios (BenchOptions::scenario): which kind request number k is,
// and the call it makes. Each is drawn from (seed, k) alone, so a run sends
// the same requests whatever order the answers come in. Faults are laid on
// top by FaultInjector (faults.h). Internal to adaptd_bench.
//
//   Workload workload(options, pool, "glyphs-conv4", adapters, target.tenants());
//   if (workload.Kind(k) == OpKind::kAdapt) target.Adapt(workload.Adapt(k), ...);
#ifndef ADAPTD_CLIENT_BENCH_WORKLOAD_H_
#define ADAPTD_CLIENT_BENCH_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "client/bench/bench.h"
#include "client/bench/synthetic_inputs.h"
#include "client/bench/target.h"

namespace adaptd::bench {

enum class OpKind { kPredict = 0, kAdapt = 1 };
inline constexpr int kOpKinds = 2;
// "predict" or "adapt", as the report names them.
const char* OpName(OpKind op);

// An Adapt task drawn by `h`: `ways` consecutive classes of the pool from a
// class drawn by `h`, instances 0..shots-1 of each.
std::vector<SupportExample> SupportSet(const InputPool& pool, int ways, int shots, uint64_t h);

// Immutable, so thread-safe. The calls it makes point into `pool`, which
// must outlive them and the Workload, as must `options`.
class Workload {
 public:
  // `adapters`: what Predicts spread over, adapter i owned by tenant
  // i % tenants; may be empty for the adapt scenario.
  // REQUIRES: tenants >= 1.
  Workload(const BenchOptions& options, const InputPool& pool, std::string backbone,
           std::vector<std::string> adapters, int tenants);

  OpKind Kind(uint64_t k) const;
  // Request k as an Adapt: a task of options.ways classes, options.shots
  // examples each, as a tenant drawn from k.
  AdaptCall Adapt(uint64_t k) const;
  // Request k as a Predict: options.batch inputs for an adapter drawn from
  // k, as its tenant. REQUIRES: adapters is not empty.
  PredictCall Predict(uint64_t k) const;

 private:
  // The hash that draws request k's choices.
  uint64_t Draw(uint64_t k) const;

  const BenchOptions& options_;
  const InputPool& pool_;
  const std::string backbone_;
  const std::vector<std::string> adapters_;
  const int tenants_;
};

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_WORKLOAD_H_
