// The head generator: what it must be before training (PROTOTYPE), its
// symmetries, its sizes, its file, and that meta-training on a task family
// teaches it something PROTOTYPE cannot do on held-out tasks.
#include "server/engine/adapt/meta_learner.h"

#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/engine/adapt/adaptation.h"
#include "tests/test_util/feature_tasks.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::engine {
namespace {

namespace F = torch::nn::functional;
using ::testing::HasSubstr;
using Task = testing::FeatureTask;

MetaLearner MakeLearner(int64_t dim, int64_t refine_steps = 2, int64_t rank = 8) {
  MetaLearnerOptions options;
  options.feature_dim = dim;
  options.hidden = 32;
  options.rank = rank;
  options.refine_steps = refine_steps;
  return MetaLearner(options);
}

// A meta-learner whose every parameter is moved off its start, so that
// every part of the generator (and the refinement) shapes the head.
MetaLearner PerturbedLearner(int64_t dim, uint64_t seed, int64_t rank = 8) {
  MetaLearner meta = MakeLearner(dim, /*refine_steps=*/2, rank);
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  // Small enough that the head's logits stay unsaturated.
  for (auto& p : meta->parameters()) p.add_(torch::randn_like(p) * 0.05);
  meta->named_parameters()["refine_rate"].fill_(0.1);
  meta->eval();
  return meta;
}

HeadResult Adapt(MetaLearner& meta, const at::Tensor& support, const at::Tensor& labels,
                 int64_t ways, Method method = Method::kMeta) {
  auto head = AdaptHead(method, support, labels, ways, &meta, {});
  EXPECT_TRUE(head.ok()) << head.status();
  return head.ok() ? *head : HeadResult{};
}

TEST(MetaLearnerTest, UntrainedIsPrototype) {
  for (auto [ways, shots] : {std::pair{5, 1}, {5, 5}, {20, 3}}) {
    Task task = testing::RandomFeatureTask(ways, shots, 1, 24, 0.8, ways + shots);
    MetaLearner meta = MakeLearner(24);
    HeadResult generated = Adapt(meta, task.support, task.support_labels, ways);
    HeadResult prototype =
        Adapt(meta, task.support, task.support_labels, ways, Method::kPrototype);
    EXPECT_TRUE(torch::allclose(generated.weight, prototype.weight, 1e-5, 1e-6));
    EXPECT_TRUE(torch::allclose(generated.bias, prototype.bias, 1e-5, 1e-6));
    EXPECT_NEAR(generated.loss_after, prototype.loss_before, 1e-5);
    EXPECT_EQ(generated.steps, 2);  // Refinement at rate 0.
  }
}

TEST(MetaLearnerTest, IsInvariantToTheOrderOfSupportExamples) {
  Task task = testing::RandomFeatureTask(5, 3, 1, 16, 0.8, 4);
  MetaLearner meta = PerturbedLearner(16, 1);
  HeadResult head = Adapt(meta, task.support, task.support_labels, 5);
  torch::manual_seed(9);
  const at::Tensor order = torch::randperm(task.support.size(0), torch::kLong);
  HeadResult shuffled = Adapt(meta, task.support.index_select(0, order),
                              task.support_labels.index_select(0, order), 5);
  EXPECT_TRUE(torch::allclose(head.weight, shuffled.weight, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(head.bias, shuffled.bias, 1e-4, 1e-5));
}

TEST(MetaLearnerTest, PermutingTheLabelsPermutesTheGeneratedClasses) {
  Task task = testing::RandomFeatureTask(6, 2, 1, 16, 0.8, 5);
  MetaLearner meta = PerturbedLearner(16, 2);
  HeadResult head = Adapt(meta, task.support, task.support_labels, 6);
  // Class c becomes class relabel[c]; the head's row relabel[c] must be
  // what row c was.
  const at::Tensor relabel = torch::tensor({3, 0, 5, 1, 4, 2}, torch::kLong);
  HeadResult permuted = Adapt(meta, task.support, relabel.index_select(0, task.support_labels), 6);
  EXPECT_TRUE(torch::allclose(permuted.weight.index_select(0, relabel), head.weight, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(permuted.bias.index_select(0, relabel), head.bias, 1e-4, 1e-5));
}

TEST(MetaLearnerTest, ADifferentSupportGivesADifferentHead) {
  MetaLearner meta = PerturbedLearner(16, 3);
  Task task = testing::RandomFeatureTask(5, 2, 1, 16, 0.8, 6);
  HeadResult head = Adapt(meta, task.support, task.support_labels, 5);
  // Another example for class 4 only: set-to-set, so every class's row
  // moves, not just class 4's.
  at::Tensor other = task.support.clone();
  other[9] = NormalizeFeatures(torch::randn({1, 16}))[0];
  HeadResult changed = Adapt(meta, other, task.support_labels, 5);
  for (int64_t c = 0; c < 5; ++c) {
    EXPECT_GT((head.weight[c] - changed.weight[c]).abs().max().item<double>(), 1e-4) << c;
  }
  // And not merely the prototype head: the generator adds its own part.
  HeadResult prototype = Adapt(meta, task.support, task.support_labels, 5, Method::kPrototype);
  EXPECT_GT((head.weight - prototype.weight).abs().max().item<double>(), 1e-3);
}

TEST(MetaLearnerTest, MakesHeadsForAnyWaysShotsAndUnevenClasses) {
  MetaLearner meta = PerturbedLearner(32, 4);
  for (auto [ways, shots] : {std::pair{2, 1}, {5, 10}, {50, 1}, {200, 2}}) {
    Task task = testing::RandomFeatureTask(ways, shots, 1, 32, 0.8, ways);
    HeadResult head = Adapt(meta, task.support, task.support_labels, ways);
    EXPECT_EQ(head.weight.sizes(), (std::vector<int64_t>{ways, 32})) << ways << "x" << shots;
    EXPECT_EQ(head.bias.size(0), ways);
    EXPECT_TRUE(torch::isfinite(head.weight).all().item<bool>()) << ways << "x" << shots;
    EXPECT_TRUE(torch::isfinite(head.bias).all().item<bool>());
  }
  // One class with one example, another with seven.
  at::Tensor labels = torch::tensor({0, 1, 1, 1, 1, 1, 1, 1, 2, 2}, torch::kLong);
  HeadResult uneven = Adapt(meta, NormalizeFeatures(torch::randn({10, 32})), labels, 3);
  EXPECT_TRUE(torch::isfinite(uneven.weight).all().item<bool>());
  // Requested steps beyond its learned ones are capped; 0 is the generated head.
  Task task = testing::RandomFeatureTask(5, 2, 1, 32, 0.8, 7);
  AdaptOptions options;
  options.steps = 50;
  auto capped = AdaptHead(Method::kMeta, task.support, task.support_labels, 5, &meta, options);
  ASSERT_TRUE(capped.ok()) << capped.status();
  EXPECT_EQ(capped->steps, 2);
  options.steps = 0;
  auto generated = AdaptHead(Method::kMeta, task.support, task.support_labels, 5, &meta, options);
  ASSERT_TRUE(generated.ok());
  EXPECT_EQ(generated->steps, 0);
}

// Serving's one-call host generator gives the LibTorch modules' head, with
// and without the low-rank term, for any ways and shots.
TEST(MetaLearnerTest, HostGeneratorGivesTheModulesHead) {
  for (int64_t rank : {8, 0}) {
    MetaLearner meta = PerturbedLearner(40, rank + 1, rank);
    torch::NoGradGuard no_grad;
    for (auto [ways, shots] : {std::pair{2, 1}, {5, 5}, {20, 3}}) {
      Task task = testing::RandomFeatureTask(ways, shots, 1, 40, 0.8, ways * shots);
      // One class with an extra example: uneven shots.
      at::Tensor support = torch::cat({task.support, task.support.slice(0, 0, 1)});
      at::Tensor labels = torch::cat({task.support_labels, task.support_labels.slice(0, 0, 1)});
      const HeadResult prototype_head =
          Adapt(meta, support, labels, ways, Method::kPrototype);  // For the class means.
      const at::Tensor prototypes = prototype_head.weight;
      GeneratedHead modules = meta->Generate(support, labels, prototypes);
      const at::Tensor host = meta->GenerateFlat(support, labels, prototypes);
      const at::Tensor expected =
          torch::cat({modules.weight.reshape({-1}), modules.bias, modules.log_scale});
      ASSERT_EQ(host.sizes(), expected.sizes());
      EXPECT_TRUE(torch::allclose(host, expected, 1e-4, 1e-5))
          << "rank " << rank << ", " << ways << "x" << shots << ": max difference "
          << (host - expected).abs().max().item<double>();
      // The generator moved the head off the prototypes: a real comparison.
      EXPECT_GT((modules.weight - prototypes).abs().max().item<double>(), 1e-3);
    }
  }
}

// A parameter changed after the host copy was made (as meta-training's
// validation does between rounds) is seen by the next head.
TEST(MetaLearnerTest, HostGeneratorFollowsParameterChanges) {
  MetaLearner meta = PerturbedLearner(16, 6);
  Task task = testing::RandomFeatureTask(5, 2, 1, 16, 0.8, 9);
  torch::NoGradGuard no_grad;
  const at::Tensor prototypes =
      Adapt(meta, task.support, task.support_labels, 5, Method::kPrototype).weight;
  const at::Tensor before = meta->GenerateFlat(task.support, task.support_labels, prototypes);
  meta->named_parameters()["delta.bias"].add_(0.5);
  const at::Tensor after = meta->GenerateFlat(task.support, task.support_labels, prototypes);
  GeneratedHead modules = meta->Generate(task.support, task.support_labels, prototypes);
  EXPECT_GT((after - before).abs().max().item<double>(), 0.1);
  EXPECT_TRUE(torch::allclose(after.slice(0, 0, 5 * 16), modules.weight.reshape({-1}), 1e-4, 1e-5));
}

// Serving adapts on many threads at once with one learner: the first
// heads also make the host copy of the weights. Every thread gets the head
// one thread alone gets afterwards.
TEST(MetaLearnerTest, ConcurrentHeadsShareOneHostCopy) {
  Task task = testing::RandomFeatureTask(5, 3, 1, 16, 0.8, 10);
  MetaLearner meta = PerturbedLearner(16, 7);  // No host copy yet.
  std::vector<HeadResult> heads(8);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < heads.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int repeat = 0; repeat < 20; ++repeat) {
        heads[t] = Adapt(meta, task.support, task.support_labels, 5);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const HeadResult expected = Adapt(meta, task.support, task.support_labels, 5);
  for (const HeadResult& head : heads) {
    EXPECT_TRUE(torch::equal(head.weight, expected.weight));
    EXPECT_TRUE(torch::equal(head.bias, expected.bias));
  }
}

TEST(MetaLearnerTest, RefusesFeaturesOfAnotherWidth) {
  MetaLearner meta = MakeLearner(16);
  Task task = testing::RandomFeatureTask(5, 1, 1, 24, 0.8, 1);
  auto head = AdaptHead(Method::kMeta, task.support, task.support_labels, 5, &meta, {});
  EXPECT_EQ(head.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(head.status().message()), HasSubstr("16-wide"));
}

TEST(MetaLearnerTest, SaveLoadRoundTrip) {
  MetaLearner meta = PerturbedLearner(16, 5);
  const std::string path = testing::MakeTempDir("meta_rt") + "/meta.pt";
  ASSERT_TRUE(SaveMetaLearner(meta, path).ok());
  MetaLearner loaded;  // Unsized: the file gives the sizes.
  ASSERT_TRUE(LoadMetaLearner(path, &loaded).ok());
  EXPECT_EQ(loaded->options().feature_dim, 16);
  EXPECT_EQ(loaded->options().rank, 8);
  EXPECT_EQ(loaded->parameter_count(), meta->parameter_count());
  Task task = testing::RandomFeatureTask(5, 2, 1, 16, 0.8, 8);
  HeadResult a = Adapt(meta, task.support, task.support_labels, 5);
  HeadResult b = Adapt(loaded, task.support, task.support_labels, 5);
  EXPECT_TRUE(torch::equal(a.weight, b.weight));
  EXPECT_TRUE(torch::equal(a.bias, b.bias));
  EXPECT_FALSE(LoadMetaLearner("/nonexistent/meta.pt", &loaded).ok());
  MetaLearner unsized;
  EXPECT_FALSE(SaveMetaLearner(unsized, path + ".unsized").ok());
}

// The layout of the earlier design's file: a step-rule network and its
// per-tensor log rates, no config.
struct StepRuleImpl : torch::nn::Module {
  StepRuleImpl() {
    register_module("mlp", torch::nn::Sequential(torch::nn::Linear(11, 32), torch::nn::Tanh(),
                                                 torch::nn::Linear(32, 1)));
    register_parameter("log_lr", torch::zeros({3}));
  }
};
TORCH_MODULE(StepRule);

TEST(MetaLearnerTest, RefusesAFileOfTheEarlierDesignWithAClearMessage) {
  const std::string path = testing::MakeTempDir("meta_old") + "/meta_learner.pt";
  StepRule old;
  torch::save(old, path);
  MetaLearner meta;
  absl::Status status = LoadMetaLearner(path, &meta);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("earlier design"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("retrain it with adapt-train metatrain"));
  EXPECT_FALSE(meta->sized());
}

// A task family where PROTOTYPE is misled: the classes differ in 8 of 32
// dimensions, and the other 24 carry noise three times as large. A metric
// that discounts those 24 is learnable across tasks; held-out tasks have new
// classes.
Task NoisyDimensionTask(int ways, int shots, int queries, uint64_t seed) {
  torch::manual_seed(seed);
  auto centres = torch::randn({ways, 8});
  auto make = [&](int per_class) {
    auto labels = torch::arange(ways).repeat_interleave(per_class);
    auto signal = centres.index_select(0, labels) + 0.4 * torch::randn({ways * per_class, 8});
    auto noise = 1.2 * torch::randn({ways * per_class, 24});
    return std::make_pair(NormalizeFeatures(torch::cat({signal, noise}, 1)), labels);
  };
  auto [s, sl] = make(shots);
  auto [q, ql] = make(queries);
  return {s, sl, q, ql};
}

double HeldOutAccuracy(MetaLearner& meta, Method method) {
  double correct = 0, total = 0;
  for (int e = 0; e < 60; ++e) {
    Task task = NoisyDimensionTask(5, 1 + 4 * (e % 2), 10, 100000 + e);
    HeadResult head = Adapt(meta, task.support, task.support_labels, 5, method);
    auto predicted = HeadLogits(task.query, head.weight, head.bias).argmax(1);
    correct += predicted.eq(task.query_labels).sum().item<double>();
    total += task.query_labels.size(0);
  }
  return correct / total;
}

TEST(MetaLearnerTest, MetaTrainingBeatsItsStartAndPrototypeOnHeldOutTasks) {
  MetaLearner meta = MakeLearner(32, 1);
  const double prototype = HeldOutAccuracy(meta, Method::kPrototype);
  const double untrained = HeldOutAccuracy(meta, Method::kMeta);
  torch::optim::Adam optimizer(meta->parameters(), torch::optim::AdamOptions(3e-3));
  AdaptOptions options;
  options.graph = AdaptOptions::Graph::kSecondOrder;
  meta->train();
  for (int step = 0; step < 120; ++step) {
    at::Tensor loss = torch::zeros({});
    for (int b = 0; b < 4; ++b) {
      Task task = NoisyDimensionTask(5, 1 + (step + b) % 5, 6, step * 4 + b);
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
  const double trained = HeldOutAccuracy(meta, Method::kMeta);
  EXPECT_NEAR(untrained, prototype, 1e-9);
  EXPECT_GT(trained, prototype + 0.05) << "untrained " << untrained;
}

}  // namespace
}  // namespace adaptd::engine
