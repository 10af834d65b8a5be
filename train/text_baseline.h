// The text baseline every text model is measured against: nearest centroid
// over TF-IDF vectors of words (BERT's basic tokenization, lower-cased and
// accents stripped), with inverse document frequencies fitted on texts
// that are not evaluated (the meta-train split). Words the fit never saw
// get the largest weight. Scored on few-shot episodes with 95% confidence
// intervals, as eval scores models.
//
// No LibTorch. Thread-compatible.
#ifndef ADAPTD_TRAIN_TEXT_BASELINE_H_
#define ADAPTD_TRAIN_TEXT_BASELINE_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "train/dataset.h"
#include "train/pretrain.h"

namespace adaptd::train {

struct TextBaselineOptions {
  std::vector<std::pair<int, int>> settings = {{5, 1}, {5, 5}, {10, 1}, {10, 5}};
  int episodes = 600;
  int queries = 15;  // Per class; fewer where classes are small.
  uint64_t seed = 1;
};

// INVALID_ARGUMENT when `fit` or `test` is not a text set or `test` can
// serve none of the settings.
absl::StatusOr<std::vector<FewShotResult>> TfIdfNearestCentroid(const Dataset& fit,
                                                                const Dataset& test,
                                                                const TextBaselineOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_TEXT_BASELINE_H_
