// AdaptHead's gradients: serving's closed-form ones against autograd's
// (FINETUNE must be plain gradient descent on the support cross-entropy,
// and META must adapt alike in serving and meta-training), and
// meta-training's second-order gradients against the true derivative of the
// query loss; the one intra-op thread it adapts on; and that META's
// LibTorch ops do not grow with the head.
#include "server/engine/adapt/adaptation.h"

#include <ATen/record_function.h>
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "server/engine/adapt/adapter_head.h"
#include "server/engine/adapt/meta_learner.h"
#include "tests/test_util/feature_tasks.h"

namespace adaptd::engine {
namespace {

namespace F = torch::nn::functional;

using Task = testing::FeatureTask;

Task RandomTask(int ways, int shots, int queries, int64_t dim, uint64_t seed) {
  return testing::RandomFeatureTask(ways, shots, queries, dim, /*noise=*/1.5, seed);
}

TEST(AdaptationTest, FinetuneIsGradientDescentOnTheSupportLoss) {
  Task task = RandomTask(5, 3, 1, 24, 11);
  constexpr int kSteps = 7;
  constexpr double kLr = 0.3;
  AdaptOptions options;
  options.steps = kSteps;
  options.finetune_lr = kLr;
  auto head = AdaptHead(Method::kFinetune, task.support, task.support_labels, 5, nullptr, options);
  ASSERT_TRUE(head.ok()) << head.status();

  // The reference: autograd over the same parameters (prototype weight and
  // bias, and a log-scale folded into both).
  auto prototypes = task.support.view({5, 3, 24}).mean(1);
  std::vector<at::Tensor> p = {prototypes.clone(), -0.5 * prototypes.pow(2).sum(1),
                               torch::zeros({1})};
  auto loss_of = [&](const std::vector<at::Tensor>& q) {
    auto s = q[2].exp();
    return F::cross_entropy(HeadLogits(task.support, q[0] * s, q[1] * s), task.support_labels);
  };
  const double before = loss_of(p).item<double>();
  for (int step = 0; step < kSteps; ++step) {
    for (auto& t : p) t = t.detach().requires_grad_(true);
    auto grads = torch::autograd::grad({loss_of(p)}, p);
    for (size_t i = 0; i < p.size(); ++i) p[i] = (p[i] - kLr * grads[i]).detach();
  }
  auto weight = p[0] * p[2].exp(), bias = p[1] * p[2].exp();
  EXPECT_TRUE(torch::allclose(head->weight, weight, 1e-4, 1e-5))
      << (head->weight - weight).abs().max().item<float>();
  EXPECT_TRUE(torch::allclose(head->bias, bias, 1e-4, 1e-5));
  EXPECT_NEAR(head->loss_before, before, 1e-5);
  EXPECT_NEAR(head->loss_after, loss_of(p).item<double>(), 1e-5);
  EXPECT_LT(head->loss_after, head->loss_before);  // The steps did something.
  EXPECT_FALSE(head->weight.requires_grad());
}

// A meta-learner moved off its start (which is PROTOTYPE with refinement
// rates of 0), so that its generator and refinement steps both act.
MetaLearner TrainedLikeLearner(int64_t dim, int64_t refine_steps, double rate) {
  MetaLearnerOptions o;
  o.feature_dim = dim;
  o.hidden = 16;
  o.rank = 4;
  o.refine_steps = refine_steps;
  MetaLearner meta(o);
  torch::NoGradGuard no_grad;
  torch::manual_seed(2);
  // Small enough that the head's logits stay unsaturated.
  for (auto& p : meta->parameters()) p.add_(torch::randn_like(p) * 0.05);
  meta->named_parameters()["refine_rate"].fill_(rate);
  return meta;
}

TEST(AdaptationTest, ServingAndMetaTrainingAdaptAlike) {
  // Serving's closed-form gradients and meta-training's autograd ones give
  // the same head from the same generated start.
  Task task = RandomTask(5, 3, 1, 16, 8);
  MetaLearner meta = TrainedLikeLearner(16, 3, 0.2);
  AdaptOptions options;
  options.steps = 3;
  auto served = AdaptHead(Method::kMeta, task.support, task.support_labels, 5, &meta, options);
  options.graph = AdaptOptions::Graph::kSecondOrder;
  auto trained = AdaptHead(Method::kMeta, task.support, task.support_labels, 5, &meta, options);
  ASSERT_TRUE(served.ok() && trained.ok());
  EXPECT_TRUE(torch::allclose(served->weight, trained->weight.detach(), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(served->bias, trained->bias.detach(), 1e-4, 1e-5));
  EXPECT_NEAR(served->loss_after, trained->loss_after, 1e-5);
  // The refinement steps descend from the generated head.
  options.graph = AdaptOptions::Graph::kNone;
  options.steps = 0;
  auto generated = AdaptHead(Method::kMeta, task.support, task.support_labels, 5, &meta, options);
  ASSERT_TRUE(generated.ok());
  EXPECT_LT(served->loss_after, generated->loss_after);
}

TEST(AdaptationTest, AdaptsOnOneIntraOpThreadAndGivesTheCallersBack) {
  at::set_num_threads(2);
  if (at::get_num_threads() != 2) GTEST_SKIP() << "this LibTorch does not set threads";
  Task task = RandomTask(5, 2, 1, 16, 3);
  int during = 0;
  AdaptOptions options;
  options.steps = 2;
  options.check = [&] {
    during = at::get_num_threads();
    return absl::OkStatus();
  };
  ASSERT_TRUE(AdaptHead(Method::kFinetune, task.support, task.support_labels, 5, nullptr, options).ok());
  EXPECT_EQ(during, 1);
  EXPECT_EQ(at::get_num_threads(), 2);
  options.intra_op_threads = 0;  // The caller's own.
  ASSERT_TRUE(AdaptHead(Method::kFinetune, task.support, task.support_labels, 5, nullptr, options).ok());
  EXPECT_EQ(during, 2);
}

// Query loss after META adaptation, as a function of the meta-learner.
at::Tensor QueryLoss(MetaLearner& meta, const Task& task, AdaptOptions::Graph graph) {
  AdaptOptions options;
  options.steps = 3;
  options.graph = graph;
  auto head = AdaptHead(Method::kMeta, task.support, task.support_labels, 5, &meta, options);
  EXPECT_TRUE(head.ok()) << head.status();
  return F::cross_entropy(HeadLogits(task.query, head->weight, head->bias), task.query_labels);
}

TEST(AdaptationTest, SecondOrderMetaGradientMatchesFiniteDifferences) {
  Task task = RandomTask(5, 2, 4, 16, 5);
  MetaLearner meta = TrainedLikeLearner(16, 3, 0.3);
  at::Tensor rates = meta->named_parameters()["refine_rate"];
  meta->zero_grad();
  QueryLoss(meta, task, AdaptOptions::Graph::kSecondOrder).backward();
  const at::Tensor second = rates.grad().clone();
  meta->zero_grad();
  QueryLoss(meta, task, AdaptOptions::Graph::kFirstOrder).backward();
  const at::Tensor first = rates.grad().clone();

  // Central differences of the served (no-graph) computation, for the
  // weight's and the bias's rate at each step.
  constexpr double kEps = 1e-2;
  for (int64_t step = 0; step < 3; ++step) {
    for (int64_t kind = 0; kind < 2; ++kind) {
      auto loss_at = [&](double delta) {
        {
          torch::NoGradGuard no_grad;
          rates[step][kind] += delta;
        }
        const double loss = QueryLoss(meta, task, AdaptOptions::Graph::kNone).item<double>();
        torch::NoGradGuard no_grad;
        rates[step][kind] -= delta;
        return loss;
      };
      const double numeric = (loss_at(kEps) - loss_at(-kEps)) / (2 * kEps);
      EXPECT_NEAR(second[step][kind].item<double>(), numeric, 0.03 * std::abs(numeric) + 1e-5)
          << "refine_rate[" << step << "][" << kind << "]";
    }
  }
  // The inner gradients' own derivatives are really there.
  EXPECT_GT((second - first).abs().max().item<double>(), 1e-6);
}

// LibTorch ops that a META adaptation of `steps` steps dispatches on this
// thread, nested ones included.
int MetaOps(MetaLearner& meta, int ways, int64_t dim, int steps) {
  static thread_local int ops = 0;
  Task task = RandomTask(ways, 2, 1, dim, 17);
  AdaptOptions options;
  options.steps = steps;
  auto handle = at::addThreadLocalCallback(
      at::RecordFunctionCallback([](const at::RecordFunction&) -> std::unique_ptr<at::ObserverContext> {
        ++ops;
        return nullptr;
      }).scopes({at::RecordScope::FUNCTION}));
  ops = 0;
  auto head = AdaptHead(Method::kMeta, task.support, task.support_labels, ways, &meta, options);
  at::removeCallback(handle);
  EXPECT_TRUE(head.ok()) << head.status();
  return ops;
}

TEST(AdaptationTest, AMetaStepDispatchesTheSameOpsWhateverTheHeadSize) {
  // Each refinement step works on the whole flat head, so its ops (on a
  // GPU, kernel launches, which dominate a step) do not grow with the ways.
  MetaLearner meta = TrainedLikeLearner(16, 3, 0.1);
  meta->eval();
  MetaOps(meta, 5, 16, 0);  // The first head on the CPU also copies the weights for the host.
  auto per_step = [&](int ways) { return MetaOps(meta, ways, 16, 3) - MetaOps(meta, ways, 16, 2); };
  const int small = per_step(5);
  EXPECT_GT(small, 0);
  EXPECT_EQ(per_step(20), small);
}

}  // namespace
}  // namespace adaptd::engine
