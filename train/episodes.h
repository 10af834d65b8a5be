// Few-shot episodes: N-way K-shot tasks with Q queries per class, drawn from
// a Dataset. Support and query images of an episode are disjoint; classes
// come from the data set given, so sampling from one split never touches
// another split's classes.
//
// Episode i of a sampler is a pure function of (seed, i): evaluations are
// reproducible and can be drawn from several threads at once.
// Thread-safe: Sample() is const and keeps no state.
//
// Example:
//   EpisodeOptions options;  // 5-way 1-shot, 15 queries
//   ASSIGN_OR_RETURN(EpisodeSampler sampler, EpisodeSampler::Create(val, options));
//   Episode e = sampler.Sample(0);
#ifndef ADAPTD_TRAIN_EPISODES_H_
#define ADAPTD_TRAIN_EPISODES_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "train/dataset.h"

namespace adaptd::train {

struct EpisodeOptions {
  int ways = 5;      // Classes per episode.
  int shots = 1;     // Support images per class.
  int queries = 15;  // Query images per class.
  uint64_t seed = 1;
};

struct Episode {
  std::vector<int32_t> classes;         // Data set class of episode label i.
  std::vector<int64_t> support;         // Image indices, class by class.
  std::vector<int32_t> support_labels;  // Episode labels in [0, ways).
  std::vector<int64_t> query;
  std::vector<int32_t> query_labels;
};

class EpisodeSampler {
 public:
  // Only classes with at least shots + queries images take part.
  // INVALID_ARGUMENT for non-positive ways/shots, negative queries, or fewer
  // than `ways` such classes.
  static absl::StatusOr<EpisodeSampler> Create(const Dataset& data, const EpisodeOptions& options);

  Episode Sample(int64_t index) const;

  const EpisodeOptions& options() const { return options_; }
  int eligible_classes() const { return static_cast<int>(classes_.size()); }

 private:
  EpisodeSampler() = default;
  EpisodeOptions options_;
  std::vector<int32_t> classes_;              // Eligible data set classes.
  std::vector<std::vector<int64_t>> images_;  // Their image indices.
};

// A sampler for each of `settings` (ways, shots) that `data` can serve, each
// with as many queries per class (up to `queries`) as leave `ways` classes
// with enough images: exemplar sets have a few images per class, a category
// may have hundreds or a handful. Settings it cannot serve are left out;
// INVALID_ARGUMENT when it can serve none.
absl::StatusOr<std::vector<EpisodeSampler>> SamplersFor(
    const Dataset& data, const std::vector<std::pair<int, int>>& settings, int queries,
    uint64_t seed);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_EPISODES_H_
