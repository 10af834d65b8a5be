// Fault injection (BenchOptions::fault): which requests are made bad on
// purpose, and how, so that the report can show each one counted under the
// code the server must give it (FaultCode). Internal to adaptd_bench.
//
//   FaultInjector faults(options.fault, options.fault_fraction, pool.malformed(),
//                        deleted_adapter, target.tenants());
//   PredictCall call = workload.Predict(k);
//   if (faults.Hits(k)) faults.Spoil(call);
#ifndef ADAPTD_CLIENT_BENCH_FAULTS_H_
#define ADAPTD_CLIENT_BENCH_FAULTS_H_

#include <cstdint>

#include "client/bench/bench.h"
#include "client/bench/synthetic_inputs.h"
#include "client/bench/target.h"

namespace adaptd::bench {

// Immutable, so thread-safe. `malformed` must outlive it and the calls it
// spoils.
class FaultInjector {
 public:
  // `deleted`: an adapter that existed and was deleted, which kNotFound
  // Predicts name. `tenants`: how many the target has; kWrongTenant needs 2.
  FaultInjector(Fault fault, double fraction, const Input& malformed, TenantAdapter deleted,
                int tenants);

  // Whether request k is bad: exactly floor(n * fraction) of requests
  // 0..n-1 are, evenly spread. Never with Fault::kNone.
  bool Hits(uint64_t k) const;
  // Makes `call` one the server refuses with FaultCode(fault).
  void Spoil(AdaptCall& call) const;
  void Spoil(PredictCall& call) const;

 private:
  const Fault fault_;
  const double fraction_;
  const Input& malformed_;
  const TenantAdapter deleted_;
  const int tenants_;
};

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_FAULTS_H_
