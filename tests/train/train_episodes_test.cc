#include "train/episodes.h"

#include <set>

#include "gtest/gtest.h"
#include "tests/train/test_data.h"
#include "train/splits.h"

namespace adaptd::train {
namespace {
using testing::MakeSyntheticDataset;

TEST(EpisodeSamplerTest, WaysShotsQueriesAndDisjointSupportAndQuery) {
  const Dataset data = MakeSyntheticDataset(4, 5, 12);
  for (auto [ways, shots, queries] : {std::tuple{5, 1, 15}, std::tuple{20, 5, 5}, std::tuple{3, 2, 0}}) {
    const int per_class = std::min(queries, 12 - shots);
    EpisodeOptions options;
    options.ways = ways;
    options.shots = shots;
    options.queries = per_class;
    auto sampler = EpisodeSampler::Create(data, options);
    ASSERT_TRUE(sampler.ok()) << sampler.status();
    for (int i = 0; i < 50; ++i) {
      const Episode e = sampler->Sample(i);
      ASSERT_EQ(e.classes.size(), static_cast<size_t>(ways));
      EXPECT_EQ(std::set<int32_t>(e.classes.begin(), e.classes.end()).size(), e.classes.size());
      ASSERT_EQ(e.support.size(), static_cast<size_t>(ways * shots));
      ASSERT_EQ(e.query.size(), static_cast<size_t>(ways * per_class));
      ASSERT_EQ(e.support_labels.size(), e.support.size());
      ASSERT_EQ(e.query_labels.size(), e.query.size());
      std::set<int64_t> support(e.support.begin(), e.support.end());
      EXPECT_EQ(support.size(), e.support.size());
      for (int64_t q : e.query) EXPECT_EQ(support.count(q), 0u) << "query image also in support";
      std::vector<int> shots_of(ways, 0);
      for (size_t k = 0; k < e.support.size(); ++k) {
        ASSERT_GE(e.support_labels[k], 0);
        ASSERT_LT(e.support_labels[k], ways);
        ++shots_of[e.support_labels[k]];
        EXPECT_EQ(data.labels[e.support[k]], e.classes[e.support_labels[k]]);
      }
      for (int s : shots_of) EXPECT_EQ(s, shots);
      for (size_t k = 0; k < e.query.size(); ++k) {
        EXPECT_EQ(data.labels[e.query[k]], e.classes[e.query_labels[k]]);
      }
    }
  }
}

TEST(EpisodeSamplerTest, DeterministicInSeedAndIndex) {
  const Dataset data = MakeSyntheticDataset(3, 10, 6);
  EpisodeOptions options;
  options.queries = 5;
  auto a = EpisodeSampler::Create(data, options);
  auto b = EpisodeSampler::Create(data, options);
  options.seed = 2;
  auto c = EpisodeSampler::Create(data, options);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  int differ_by_index = 0, differ_by_seed = 0;
  for (int i = 0; i < 20; ++i) {
    const Episode x = a->Sample(i), y = b->Sample(i);
    EXPECT_EQ(x.support, y.support);
    EXPECT_EQ(x.query, y.query);
    differ_by_index += a->Sample(i + 1).support != x.support;
    differ_by_seed += c->Sample(i).support != x.support;
  }
  EXPECT_GT(differ_by_index, 15);
  EXPECT_GT(differ_by_seed, 15);
}

TEST(EpisodeSamplerTest, NoClassLeaksAcrossSplits) {
  Dataset data = MakeSyntheticDataset(12, 6, 4);
  ASSERT_TRUE(AssignSplitsByGroup(&data, SplitOptions()).ok());
  std::map<std::string, Split> split_of_class;
  for (int c = 0; c < data.num_classes(); ++c) {
    split_of_class[data.class_names[c]] = data.group_splits[data.class_groups[c]];
  }
  for (Split split : {Split::kTrain, Split::kVal, Split::kTest}) {
    const Dataset part = SplitClasses(data, split);
    EpisodeOptions options;
    options.shots = 1;
    options.queries = 3;
    auto sampler = EpisodeSampler::Create(part, options);
    ASSERT_TRUE(sampler.ok()) << SplitName(split) << ": " << sampler.status();
    for (int i = 0; i < 30; ++i) {
      const Episode e = sampler->Sample(i);
      for (int32_t c : e.classes) EXPECT_EQ(split_of_class.at(part.class_names[c]), split);
    }
  }
}

TEST(EpisodeSamplerTest, RefusesImpossibleTasks) {
  const Dataset data = MakeSyntheticDataset(1, 6, 4);
  EpisodeOptions options;
  options.ways = 7;
  EXPECT_EQ(EpisodeSampler::Create(data, options).status().code(), absl::StatusCode::kInvalidArgument);
  options.ways = 5;
  options.shots = 2;
  options.queries = 3;  // 5 per class needed, 4 available.
  EXPECT_EQ(EpisodeSampler::Create(data, options).status().code(), absl::StatusCode::kInvalidArgument);
  options.shots = 0;
  EXPECT_EQ(EpisodeSampler::Create(data, options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace adaptd::train
