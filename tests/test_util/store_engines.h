// Engines over tiny models for the durable-store tests, and the probes that
// compare an adapter's predictions before and after it was stored.
#ifndef ADAPTD_TESTS_TEST_UTIL_STORE_ENGINES_H_
#define ADAPTD_TESTS_TEST_UTIL_STORE_ENGINES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/engine/engine.h"

namespace adaptd::testing {

// A model repository with "tiny" (Conv4 + untrained meta-learner) and
// "plain" (Conv4 only), written once per process.
const std::string& StoreTestRepository();

// Engine options over StoreTestRepository() on the CPU, one thread, the
// memory backend; callers set `persistence`.
engine::Engine::Options StoreTestEngineOptions();

// Predictions of `adapter_id` for held-out instances 10..12 of classes
// 0..ways-1 (one label and the probabilities of every class each).
absl::StatusOr<std::vector<engine::Prediction>> PredictProbes(engine::Engine& engine,
                                                              const std::string& adapter_id,
                                                              const engine::CallContext& ctx,
                                                              int ways = 3);

// Whether two prediction lists agree: same labels, probabilities within
// 1e-6. On mismatch, `why` says where.
bool SamePredictions(const std::vector<engine::Prediction>& a,
                     const std::vector<engine::Prediction>& b, std::string* why);

}  // namespace adaptd::testing

#endif  // ADAPTD_TESTS_TEST_UTIL_STORE_ENGINES_H_
