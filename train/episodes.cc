#include "train/episodes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "train/random.h"

namespace adaptd::train {

absl::StatusOr<EpisodeSampler> EpisodeSampler::Create(const Dataset& data,
                                                      const EpisodeOptions& options) {
  if (options.ways < 1 || options.shots < 1 || options.queries < 0) {
    return absl::InvalidArgumentError(absl::StrCat("episodes: need ways >= 1 and shots >= 1 and ",
                                                   "queries >= 0, got ", options.ways, "-way ",
                                                   options.shots, "-shot ", options.queries,
                                                   " queries"));
  }
  EpisodeSampler sampler;
  sampler.options_ = options;
  const size_t need = static_cast<size_t>(options.shots) + options.queries;
  auto by_class = data.IndicesByClass();
  for (int32_t c = 0; c < data.num_classes(); ++c) {
    if (by_class[c].size() < need) continue;
    sampler.classes_.push_back(c);
    sampler.images_.push_back(std::move(by_class[c]));
  }
  if (sampler.eligible_classes() < options.ways) {
    return absl::InvalidArgumentError(
        absl::StrCat("episodes: ", options.ways, "-way tasks need ", options.ways,
                     " classes with at least ", need, " images; the data set has ",
                     sampler.eligible_classes()));
  }
  return sampler;
}

Episode EpisodeSampler::Sample(int64_t index) const {
  Rng rng(MixSeed(options_.seed, {static_cast<uint64_t>(index)}));
  const int n = eligible_classes();
  // Partial Fisher-Yates: the first `ways` of a permutation.
  std::vector<int32_t> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  for (int i = 0; i < options_.ways; ++i) std::swap(order[i], order[i + rng.Below(n - i)]);

  Episode e;
  const int per_class = options_.shots + options_.queries;
  e.support.reserve(static_cast<size_t>(options_.ways) * options_.shots);
  e.query.reserve(static_cast<size_t>(options_.ways) * options_.queries);
  std::vector<int64_t> pick;
  for (int label = 0; label < options_.ways; ++label) {
    const int k = order[label];
    e.classes.push_back(classes_[k]);
    pick = images_[k];
    for (int i = 0; i < per_class; ++i) {
      std::swap(pick[i], pick[i + rng.Below(pick.size() - i)]);
    }
    for (int i = 0; i < options_.shots; ++i) {
      e.support.push_back(pick[i]);
      e.support_labels.push_back(label);
    }
    for (int i = options_.shots; i < per_class; ++i) {
      e.query.push_back(pick[i]);
      e.query_labels.push_back(label);
    }
  }
  return e;
}

absl::StatusOr<std::vector<EpisodeSampler>> SamplersFor(
    const Dataset& data, const std::vector<std::pair<int, int>>& settings, int queries,
    uint64_t seed) {
  std::vector<int64_t> sizes;
  for (const auto& images : data.IndicesByClass()) sizes.push_back(images.size());
  std::sort(sizes.rbegin(), sizes.rend());
  std::vector<EpisodeSampler> out;
  for (const auto& [ways, shots] : settings) {
    if (ways < 1 || static_cast<int>(sizes.size()) < ways) continue;
    const int64_t q = std::min<int64_t>(sizes[ways - 1] - shots, queries);
    if (q < 1) continue;
    ASSIGN_OR_RETURN(EpisodeSampler s,
                     EpisodeSampler::Create(data, {ways, shots, static_cast<int>(q), seed}));
    out.push_back(std::move(s));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "episodes: a data set of ", data.num_classes(), " classes and ", data.size(),
        " images has too few classes with enough images for any task setting"));
  }
  return out;
}

}  // namespace adaptd::train
