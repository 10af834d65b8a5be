// Fault injection: which requests are bad, and what makes each kind bad
// (faults.h).
#include "client/bench/faults.h"

#include <cmath>
#include <utility>

namespace adaptd::bench {
namespace {

// A backbone no server has: the Adapt faults' NOT_FOUND.
constexpr char kMissingBackbone[] = "adaptd-bench-no-such-backbone";

}  // namespace

FaultInjector::FaultInjector(Fault fault, double fraction, const Input& malformed,
                             TenantAdapter deleted, int tenants)
    : fault_(fault),
      fraction_(fraction),
      malformed_(malformed),
      deleted_(std::move(deleted)),
      tenants_(tenants) {}

bool FaultInjector::Hits(uint64_t k) const {
  if (fault_ == Fault::kNone || fraction_ <= 0) return false;
  return std::floor(static_cast<double>(k + 1) * fraction_) >
         std::floor(static_cast<double>(k) * fraction_);
}

void FaultInjector::Spoil(AdaptCall& call) const {
  switch (fault_) {
    case Fault::kNone: return;
    case Fault::kNotFound:
    case Fault::kWrongTenant:
      call.backbone = kMissingBackbone;
      return;
    case Fault::kInvalidArgument:
      call.support[0].input = &malformed_;
      return;
  }
}

void FaultInjector::Spoil(PredictCall& call) const {
  switch (fault_) {
    case Fault::kNone: return;
    case Fault::kNotFound:
      call.tenant = deleted_.first;
      call.adapter_id = deleted_.second;
      return;
    case Fault::kWrongTenant:
      call.tenant = (call.tenant + 1) % tenants_;
      return;
    case Fault::kInvalidArgument:
      call.inputs[0] = &malformed_;
      return;
  }
}

}  // namespace adaptd::bench
