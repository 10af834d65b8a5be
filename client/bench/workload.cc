// The scenarios: the kind and the call of each request (workload.h).
#include "client/bench/workload.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace adaptd::bench {

const char* OpName(OpKind op) { return op == OpKind::kAdapt ? "adapt" : "predict"; }

std::vector<SupportExample> SupportSet(const InputPool& pool, int ways, int shots, uint64_t h) {
  std::vector<SupportExample> support;
  support.reserve(static_cast<size_t>(ways) * shots);
  const int first = static_cast<int>(h % static_cast<uint64_t>(pool.classes()));
  for (int w = 0; w < ways; ++w) {
    const int cls = (first + w) % pool.classes();
    for (int s = 0; s < shots; ++s) {
      support.push_back({absl::StrCat("c", cls), &pool.Get(cls, s % pool.instances())});
    }
  }
  return support;
}

Workload::Workload(const BenchOptions& options, const InputPool& pool, std::string backbone,
                   std::vector<std::string> adapters, int tenants)
    : options_(options),
      pool_(pool),
      backbone_(std::move(backbone)),
      adapters_(std::move(adapters)),
      tenants_(tenants) {}

OpKind Workload::Kind(uint64_t k) const {
  switch (options_.scenario) {
    case Scenario::kPredict: return OpKind::kPredict;
    case Scenario::kAdapt: return OpKind::kAdapt;
    case Scenario::kMix:
      // Its own hash, so that the mix does not depend on the other draws.
      return UnitInterval(Mix64(options_.seed * 0x2545f4914f6cdd1dULL + k)) <
                     options_.adapt_fraction
                 ? OpKind::kAdapt
                 : OpKind::kPredict;
  }
  return OpKind::kPredict;
}

uint64_t Workload::Draw(uint64_t k) const {
  return Mix64(options_.seed * 0x9e3779b97f4a7c15ULL + k);
}

AdaptCall Workload::Adapt(uint64_t k) const {
  const uint64_t h = Draw(k);
  AdaptCall call;
  call.tenant = static_cast<int>((h >> 40) % static_cast<uint64_t>(tenants_));
  call.backbone = backbone_;
  call.support = SupportSet(pool_, options_.ways, options_.shots, h);
  call.method = options_.method;
  call.steps = options_.steps;
  call.ttl = options_.adapter_ttl;
  call.timeout = options_.timeout;
  return call;
}

PredictCall Workload::Predict(uint64_t k) const {
  const uint64_t h = Draw(k);
  PredictCall call;
  const size_t a = h % adapters_.size();
  call.adapter_id = adapters_[a];
  call.tenant = static_cast<int>(a % static_cast<size_t>(tenants_));
  uint64_t pick = h;
  for (int i = 0; i < options_.batch; ++i) {
    pick = Mix64(pick);
    const int cls = static_cast<int>(pick % static_cast<uint64_t>(pool_.classes()));
    const int instance =
        static_cast<int>((pick >> 32) % static_cast<uint64_t>(pool_.instances()));
    call.inputs.push_back(&pool_.Get(cls, instance));
  }
  call.top_k = options_.top_k;
  call.timeout = options_.timeout;
  return call;
}

}  // namespace adaptd::bench
