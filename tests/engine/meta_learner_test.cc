#include "server/engine/meta_learner.h"

#include <torch/torch.h>

#include <gtest/gtest.h>

#include "server/engine/adaptation.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::engine {
namespace {

namespace F = torch::nn::functional;

struct Task {
  at::Tensor support, support_labels, query, query_labels;
};

Task RandomTask(int ways, int shots, int queries, int64_t dim, uint64_t seed) {
  torch::manual_seed(seed);
  auto centres = torch::randn({ways, dim});
  auto make = [&](int per_class) {
    auto labels = torch::arange(ways).repeat_interleave(per_class);
    auto x = centres.index_select(0, labels) + 0.8 * torch::randn({ways * per_class, dim});
    return std::make_pair(NormalizeFeatures(x), labels);
  };
  auto [s, sl] = make(shots);
  auto [q, ql] = make(queries);
  return {s, sl, q, ql};
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

// 1-shot tasks where half the feature dimensions carry the class and the
// other half are loud noise: the prototype metric is poor, and only a
// per-dimension scale (the noise shows in the prototypes' wider spread) can
// fix it. Gradient steps barely move a 1-shot head.
Task NoisyDimsTask(int ways, int queries, uint64_t seed) {
  torch::manual_seed(seed);
  constexpr int64_t kHalf = 16;
  auto centres = torch::randn({ways, kHalf});
  auto make = [&](int per_class) {
    auto labels = torch::arange(ways).repeat_interleave(per_class);
    auto signal = centres.index_select(0, labels) + 0.3 * torch::randn({ways * per_class, kHalf});
    auto noise = 2.5 * torch::randn({ways * per_class, kHalf});
    return std::make_pair(NormalizeFeatures(torch::cat({signal, noise}, 1)), labels);
  };
  auto [s, sl] = make(1);
  auto [q, ql] = make(queries);
  return {s, sl, q, ql};
}

double OneShotAccuracy(Method method, MetaLearner& meta, uint64_t first_seed, int tasks) {
  double correct = 0, total = 0;
  for (int t = 0; t < tasks; ++t) {
    Task task = NoisyDimsTask(5, 10, first_seed + t);
    AdaptOptions options;
    options.steps = 2;
    auto head = AdaptHead(method, task.support, task.support_labels, 5, &meta, options);
    EXPECT_TRUE(head.ok()) << head.status();
    torch::NoGradGuard no_grad;
    auto predicted = HeadLogits(task.query, head->weight, head->bias).argmax(1);
    correct += predicted.eq(task.query_labels).sum().item<double>();
    total += task.query_labels.size(0);
  }
  return correct / total;
}

TEST(MetaLearnerTest, LearnsAFeatureMetricThatHelpsOneShotTasks) {
  torch::manual_seed(0);
  MetaLearner meta;
  const double prototype = OneShotAccuracy(Method::kPrototype, meta, 1000, 40);
  const double untrained = OneShotAccuracy(Method::kMeta, meta, 1000, 40);
  torch::optim::Adam optimizer(meta->parameters(), torch::optim::AdamOptions(1e-2));
  for (int step = 0; step < 60; ++step) {
    at::Tensor loss = torch::zeros({});
    for (int b = 0; b < 4; ++b) {
      Task task = NoisyDimsTask(5, 5, step * 4 + b);
      AdaptOptions options;
      options.steps = 2;
      options.graph = AdaptOptions::Graph::kFirstOrder;
      auto head = AdaptHead(Method::kMeta, task.support, task.support_labels, 5, &meta, options);
      ASSERT_TRUE(head.ok()) << head.status();
      loss = loss + F::cross_entropy(HeadLogits(task.query, head->weight, head->bias),
                                     task.query_labels);
    }
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  meta->eval();
  const double trained = OneShotAccuracy(Method::kMeta, meta, 1000, 40);
  // Held-out tasks (seeds 1000..1039; training used 0..239).
  EXPECT_NEAR(untrained, prototype, 0.05);  // Two SGD steps barely move a 1-shot head.
  EXPECT_GT(trained, untrained + 0.15) << "prototype " << prototype;
  // The scale network did it: its gradient reached it.
  auto named = meta->named_parameters();
  EXPECT_GT(named["feature_scale.2.weight"].abs().sum().item<double>(), 0);
}

TEST(MetaLearnerTest, LoadsAMetaLearnerSavedBeforeTheFeatureScale) {
  MetaLearner meta;
  {
    torch::NoGradGuard no_grad;
    for (auto& p : meta->parameters()) p.add_(torch::randn_like(p) * 0.1);
  }
  // The old layout: the step network and the log learning rates only.
  torch::serialize::OutputArchive archive, mlp;
  meta->named_children()["mlp"]->save(mlp);
  archive.write("mlp", mlp);
  archive.write("log_lr", meta->named_parameters()["log_lr"]);
  const std::string path = testing::MakeTempDir("meta_old") + "/meta.pt";
  archive.save_to(path);

  MetaLearner loaded;
  ASSERT_TRUE(LoadMetaLearner(path, &loaded).ok());
  auto want = meta->named_parameters(), got = loaded->named_parameters();
  for (const auto& item : want) {
    if (item.key().rfind("feature_scale.", 0) == 0) continue;
    EXPECT_TRUE(torch::equal(item.value(), got[item.key()])) << item.key();
  }
  // It keeps the identity scale.
  Task task = RandomTask(5, 2, 1, 16, 4);
  auto prototypes = task.support.view({5, 2, 16}).mean(1);
  auto scale = loaded->FeatureScale(task.support, task.support_labels, prototypes, {5, 2, {}});
  EXPECT_TRUE(torch::allclose(scale, torch::ones({16})));
}

}  // namespace
}  // namespace adaptd::engine
