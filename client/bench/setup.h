// The adapters a run needs before its load, and the deletion of what it made
// after. Internal to adaptd_bench.
//
//   ASSIGN_OR_RETURN(SetupAdapters setup, CreateSetupAdapters(options, target, pool, name));
//   ...
//   DeleteAdapters(OwnedAdapters(setup.adapters, target.tenants()), target, options);
#ifndef ADAPTD_CLIENT_BENCH_SETUP_H_
#define ADAPTD_CLIENT_BENCH_SETUP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/bench/bench.h"
#include "client/bench/synthetic_inputs.h"
#include "client/bench/target.h"

namespace adaptd::bench {

struct SetupAdapters {
  // What Predicts spread over; adapter i is owned by tenant i % tenants.
  std::vector<std::string> adapters;
  // Fault::kNotFound: an adapter that existed and was deleted; else empty.
  TenantAdapter deleted;
};

// Creates options.adapters adapters of `backbone` with PROTOTYPE (no steps,
// so it is quick), options.ways-way options.setup_shots-shot, adapter i as
// tenant i % target.tenants(); for the not_found fault one more, deleted
// again. On failure deletes what it made (with options.cleanup) and returns
// the error, prefixed "setup: ".
absl::StatusOr<SetupAdapters> CreateSetupAdapters(const BenchOptions& options, Target& target,
                                                  const InputPool& pool,
                                                  const std::string& backbone);

// `adapters` as (tenant, id) pairs, adapter i as tenant i % tenants; empty
// ids (never made) left out.
std::vector<TenantAdapter> OwnedAdapters(const std::vector<std::string>& adapters, int tenants);

// Deletes `ids`, best effort: a failure is reported through options.progress
// only. An adapter already gone counts as deleted.
void DeleteAdapters(const std::vector<TenantAdapter>& ids, Target& target,
                    const BenchOptions& options);

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_SETUP_H_
