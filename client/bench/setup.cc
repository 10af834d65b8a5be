// Creating the adapters a run predicts with, and deleting what a run made
// (setup.h).
#include "client/bench/setup.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/bench/call_runner.h"
#include "client/bench/workload.h"

namespace adaptd::bench {
namespace {

// Creates adapters[0..n-1]; on failure some slots stay empty.
absl::Status CreateAdapters(int n, const BenchOptions& options, Target& target,
                            const InputPool& pool, const std::string& backbone,
                            std::vector<std::string>& adapters) {
  const int tenants = target.tenants();
  adapters.resize(n);
  return RunCalls(
      n, std::min(options.concurrency, 64),
      [&](int i, Done done) {
        AdaptCall call;
        call.tenant = i % tenants;
        call.backbone = backbone;
        call.support = SupportSet(pool, options.ways, options.setup_shots,
                                  static_cast<uint64_t>(i) * options.ways);
        call.method = engine::Method::kPrototype;
        call.ttl = options.adapter_ttl;
        call.timeout = options.timeout;
        target.Adapt(call, [&adapters, i, done](const absl::Status& s, const std::string& id) {
          adapters[i] = id;  // Each slot written by one call only.
          done(s);
        });
      },
      absl::StrCat("setup: PROTOTYPE ", options.ways, "-way ", options.setup_shots,
                   "-shot adapters created"),
      options);
}

}  // namespace

absl::StatusOr<SetupAdapters> CreateSetupAdapters(const BenchOptions& options, Target& target,
                                                  const InputPool& pool,
                                                  const std::string& backbone) {
  const int tenants = target.tenants();
  const bool delete_one = options.fault == Fault::kNotFound;
  const int wanted = options.adapters + (delete_one ? 1 : 0);
  SetupAdapters setup;
  absl::Status status = CreateAdapters(wanted, options, target, pool, backbone, setup.adapters);
  if (!status.ok()) {
    if (options.cleanup) DeleteAdapters(OwnedAdapters(setup.adapters, tenants), target, options);
    return absl::Status(status.code(), absl::StrCat("setup: Adapt failed: ", status.message()));
  }
  if (!delete_one) return setup;

  setup.deleted = {(wanted - 1) % tenants, setup.adapters.back()};
  setup.adapters.pop_back();
  absl::Status deleted = RunCalls(
      1, 1,
      [&](int, Done done) {
        target.DeleteAdapter(setup.deleted.first, setup.deleted.second, options.timeout, done);
      },
      "setup: adapter deleted for the not_found fault", options);
  if (!deleted.ok()) {
    if (options.cleanup) DeleteAdapters(OwnedAdapters(setup.adapters, tenants), target, options);
    return absl::Status(deleted.code(),
                        absl::StrCat("setup: DeleteAdapter failed: ", deleted.message()));
  }
  return setup;
}

std::vector<TenantAdapter> OwnedAdapters(const std::vector<std::string>& adapters, int tenants) {
  std::vector<TenantAdapter> ids;
  for (size_t i = 0; i < adapters.size(); ++i) {
    if (!adapters[i].empty()) ids.emplace_back(static_cast<int>(i % tenants), adapters[i]);
  }
  return ids;
}

void DeleteAdapters(const std::vector<TenantAdapter>& ids, Target& target,
                    const BenchOptions& options) {
  if (ids.empty()) return;
  absl::Status status = RunCalls(
      static_cast<int>(ids.size()), options.concurrency,
      [&ids, &target, &options](int i, Done done) {
        target.DeleteAdapter(ids[i].first, ids[i].second, options.timeout,
                             [done](const absl::Status& s) {
          done(s.ok() || absl::IsNotFound(s) ? absl::OkStatus() : s);  // NOT_FOUND: gone.
        });
      },
      "cleanup: adapters deleted", options);
  if (!status.ok() && options.progress) {
    options.progress(absl::StrCat("cleanup: stopped: ", status.ToString()));
  }
}

}  // namespace adaptd::bench
