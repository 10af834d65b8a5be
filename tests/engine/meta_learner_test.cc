#include "server/engine/adapt/meta_learner.h"

#include <cmath>

#include <torch/torch.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/engine/adapt/adaptation.h"
#include "tests/test_util/feature_tasks.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::engine {
namespace {

namespace F = torch::nn::functional;

using Task = testing::FeatureTask;

Task RandomTask(int ways, int shots, int queries, int64_t dim, uint64_t seed) {
  return testing::RandomFeatureTask(ways, shots, queries, dim, /*noise=*/0.8, seed);
}

// d(query loss after adaptation)/d(meta-learner parameters).
std::vector<at::Tensor> MetaGradients(MetaLearner& meta, const Task& task,
                                      AdaptOptions::Graph graph) {
  meta->zero_grad();
  AdaptOptions options;
  options.steps = 3;
  options.graph = graph;
  auto head = AdaptHead(Method::kMeta, task.support, task.support_labels, 5, &meta, options);
  EXPECT_TRUE(head.ok()) << head.status();
  auto loss = F::cross_entropy(HeadLogits(task.query, head->weight, head->bias), task.query_labels);
  loss.backward();
  std::vector<at::Tensor> grads;
  for (const auto& p : meta->parameters()) {
    grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  }
  return grads;
}

TEST(MetaLearnerTest, IsCompactAndIndependentOfWaysAndFeatureSize) {
  MetaLearner meta;
  EXPECT_GT(meta->parameter_count(), 1000);
  EXPECT_LT(meta->parameter_count(), 300000);
  // The same network adapts 5-way and 20-way heads over any feature size.
  for (auto [ways, dim] : {std::pair<int, int64_t>{5, 64}, {20, 640}}) {
    Task task = RandomTask(ways, 1, 2, dim, 3);
    auto head = AdaptHead(Method::kMeta, task.support, task.support_labels, ways, &meta, {});
    ASSERT_TRUE(head.ok()) << head.status();
    EXPECT_EQ(head->weight.sizes(), (std::vector<int64_t>{ways, dim}));
  }
}

TEST(MetaLearnerTest, HigherOrderGradientsFlowIntoTheMetaLearner) {
  MetaLearner meta;
  Task task = RandomTask(5, 2, 5, 32, 1);
  auto second = MetaGradients(meta, task, AdaptOptions::Graph::kSecondOrder);
  auto first = MetaGradients(meta, task, AdaptOptions::Graph::kFirstOrder);
  double second_norm = 0, difference = 0;
  for (size_t i = 0; i < second.size(); ++i) {
    second_norm += second[i].norm().item<double>();
    difference += (second[i] - first[i]).norm().item<double>();
  }
  EXPECT_GT(second_norm, 1e-6);  // A non-zero meta-gradient.
  // Differentiating through the inner gradients changes it: the
  // second-order terms are really there.
  EXPECT_GT(difference, 1e-9);
  // Serving keeps no graph: nothing reaches the meta-learner.
  meta->zero_grad();
  auto head = AdaptHead(Method::kMeta, task.support, task.support_labels, 5, &meta, {});
  ASSERT_TRUE(head.ok());
  EXPECT_FALSE(head->weight.requires_grad());
}

TEST(MetaLearnerTest, SaveLoadRoundTrip) {
  MetaLearner meta;
  {
    torch::NoGradGuard no_grad;
    for (auto& p : meta->parameters()) p.add_(torch::randn_like(p) * 0.1);
  }
  const std::string path = testing::MakeTempDir("meta_rt") + "/meta.pt";
  ASSERT_TRUE(SaveMetaLearner(meta, path).ok());
  MetaLearner loaded;
  ASSERT_TRUE(LoadMetaLearner(path, &loaded).ok());
  auto a = meta->parameters(), b = loaded->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i]));
  EXPECT_FALSE(LoadMetaLearner("/nonexistent/meta.pt", &loaded).ok());
}

TEST(MetaLearnerTest, StepsEachKindOfTensorAtItsOwnRate) {
  // Untrained, each kind steps at its own rate: plain SGD per kind.
  MetaLearner meta(0.1, 16);
  {
    torch::NoGradGuard no_grad;
    meta->named_parameters()["log_lr"][2].fill_(std::log(2.0));
  }
  TaskStats stats{5, 1, torch::tensor(0.5)};
  auto plan = meta->Prepare({3, 2, 4}, stats, torch::TensorOptions());
  auto params = torch::randn({9});
  auto grads = torch::randn({9});
  auto update = meta->Update(plan, params, grads, 0, 5, torch::tensor(1.0));
  auto rates = torch::tensor({0.1, 0.1, 0.1, 0.1, 0.1, 2.0, 2.0, 2.0, 2.0}, torch::kFloat);
  EXPECT_TRUE(torch::allclose(update, rates * grads, 1e-5, 1e-6));
  // A plan for another number of kinds is refused, not misread.
  EXPECT_THROW(meta->Prepare({3, 2, 1, 4}, stats, torch::TensorOptions()), c10::Error);
}

TEST(MetaLearnerTest, RefusesAFileMadeForAnotherShape) {
  MetaLearner wide(0.1, 16);
  const std::string path = testing::MakeTempDir("meta_shape") + "/meta.pt";
  ASSERT_TRUE(SaveMetaLearner(wide, path).ok());
  MetaLearner narrow(0.01, 8);
  absl::Status status = LoadMetaLearner(path, &narrow);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("of shape"));
}

}  // namespace
}  // namespace adaptd::engine
