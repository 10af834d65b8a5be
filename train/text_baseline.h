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
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "train/dataset.h"
#include "train/episodes.h"
#include "train/pretrain.h"

namespace adaptd::train {

struct TextBaselineOptions {
  std::vector<std::pair<int, int>> settings = {{5, 1}, {5, 5}, {10, 1}, {10, 5}};
  int episodes = 600;
  int queries = 15;  // Per class; fewer where classes are small.
  uint64_t seed = 1;
};

// The TF-IDF vectors of a text set's texts, fitted once, for scoring
// nearest centroid on its episodes (eval scores it on the episodes it
// gives the models). Immutable after Create; thread-safe.
//
//   ASSIGN_OR_RETURN(auto tfidf, TfIdfTexts::Create(train_split, test_split));
//   double accuracy = tfidf->EpisodeAccuracy(sampler.Sample(0));
class TfIdfTexts {
 public:
  // Document frequencies from `fit` (may be empty: plain term frequencies),
  // vectors for every text of `texts`. INVALID_ARGUMENT when either is not a
  // text set or a text does not split into words.
  static absl::StatusOr<std::unique_ptr<TfIdfTexts>> Create(const Dataset& fit,
                                                            const Dataset& texts);
  ~TfIdfTexts();

  // The share of `episode`'s queries (indices into `texts`) whose nearest
  // class centroid, by cosine, is their own class's.
  double EpisodeAccuracy(const Episode& episode) const;

 private:
  struct Vectors;
  explicit TfIdfTexts(std::unique_ptr<Vectors> vectors);
  std::unique_ptr<Vectors> vectors_;
};

// INVALID_ARGUMENT when `fit` or `test` is not a text set or `test` can
// serve none of the settings.
absl::StatusOr<std::vector<FewShotResult>> TfIdfNearestCentroid(const Dataset& fit,
                                                                const Dataset& test,
                                                                const TextBaselineOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_TEXT_BASELINE_H_
