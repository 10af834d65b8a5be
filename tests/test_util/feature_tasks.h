// Few-shot tasks made directly in feature space, for tests of the
// adaptation methods and the meta-learner: class centres drawn at random,
// examples around them with Gaussian noise, L2-normalised as backbone
// features are. Deterministic for a seed. LibTorch types.
#ifndef ADAPTD_TESTS_TEST_UTIL_FEATURE_TASKS_H_
#define ADAPTD_TESTS_TEST_UTIL_FEATURE_TASKS_H_

#include <cstdint>
#include <utility>

#include <torch/torch.h>

#include "server/engine/adapt/adaptation.h"

namespace adaptd::testing {

struct FeatureTask {
  at::Tensor support, support_labels, query, query_labels;  // Labels in class order.
};

inline FeatureTask RandomFeatureTask(int ways, int shots, int queries, int64_t dim,
                                     double noise, uint64_t seed) {
  torch::manual_seed(seed);
  auto centres = torch::randn({ways, dim});
  auto make = [&](int per_class) {
    auto labels = torch::arange(ways).repeat_interleave(per_class);
    auto x = centres.index_select(0, labels) + noise * torch::randn({ways * per_class, dim});
    return std::make_pair(engine::NormalizeFeatures(x), labels);
  };
  auto [s, sl] = make(shots);
  auto [q, ql] = make(queries);
  return {s, sl, q, ql};
}

}  // namespace adaptd::testing

#endif  // ADAPTD_TESTS_TEST_UTIL_FEATURE_TASKS_H_
