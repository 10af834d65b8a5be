// adapt-block4: an offline experiment, not part of adaptd. It asks whether a
// learned update earns anything when the task parameters are Conv4's last
// block as well as the head (docs/benchmarks.md, "Where adaptation has
// room: the last block").
//
// The backbone is split after block 3. Blocks 1-3 stay frozen and shared;
// each task adapts its own copy of block 4 (conv weight and bias, batch-norm
// scale and shift: 37,056 values) and the head that adaptd adapts (weight,
// bias, log-scale). The update rule is the engine's meta-learner with a
// fourth coordinate kind, with AdaptHead's guard (a step that raises the
// support loss is not taken). Untrained, it is SGD at --lr_head on the head
// and --lr_block on block 4.
//
//   adapt-block4 eval       PROTOTYPE and FINETUNE-5 (head only, as adaptd),
//                           FINETUNE over block 4 + head (--steps and ten
//                           times as many), and META over block 4 + head,
//                           untrained and (with --meta_learner) trained, on
//                           meta-val; --fashion adds Fashion-MNIST 5-way
//                           (never used to choose).
//   adapt-block4 metatrain  meta-trains the block-4 meta-learner on tasks
//                           from --data and --extra_data, keeps the best of
//                           its meta-val checks (the untrained state
//                           included) in --out/meta_learner.pt.
//
// No checkpoints or resume: a run is minutes (docs/benchmarks.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <torch/autograd.h>
#include <torch/nn/functional.h>
#include <torch/optim/adam.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "server/engine/adaptation.h"
#include "server/engine/backbone.h"
#include "server/engine/meta_learner.h"
#include "server/engine/nets.h"
#include "server/engine/status_macros.h"
#include "server/engine/torch_util.h"
#include "train/data.h"
#include "train/episodes.h"
#include "train/features.h"
#include "train/progress.h"

ABSL_FLAG(std::string, model, "data/stage/glyphs-conv4",
          "A Conv4 model folder (make models' pretrained backbone, before meta-training).");
ABSL_FLAG(std::string, data, "data/glyphs.bin",
          "Glyph cache: its meta-train classes give training tasks, its meta-val classes checks.");
ABSL_FLAG(std::string, extra_data, "data/clipart.bin,data/clipart.bin:groups",
          "More caches (FILE:groups for its groups as classes) whose meta-train classes give "
          "training tasks, each a domain of its own, as in make models.");
ABSL_FLAG(std::string, val_data, "data/clipart.bin:groups",
          "More caches whose meta-val classes join --data's in the checks, as in make models.");
ABSL_FLAG(double, lr_head, 0.03, "Untrained step size on the head (make models' FINETUNE rate).");
ABSL_FLAG(double, lr_block, 1.0, "Untrained step size on block 4.");
ABSL_FLAG(int, steps, 5, "Adaptation steps.");
ABSL_FLAG(int, hidden, 32, "The meta-learner's hidden width.");
ABSL_FLAG(std::string, meta_learner, "",
          "eval: a meta-learner written by `adapt-block4 metatrain` (--out/meta_learner.pt), "
          "scored beside the untrained one.");
ABSL_FLAG(int, episodes, 600, "eval: episodes per setting.");
ABSL_FLAG(bool, fashion, false, "eval: also Fashion-MNIST's test split, 5-way 1- and 5-shot.");
ABSL_FLAG(std::string, out, "data/block4", "metatrain: folder for meta_learner.pt and report.json.");
ABSL_FLAG(int, meta_steps, 300, "metatrain: meta-steps.");
ABSL_FLAG(int, meta_batch, 8, "metatrain: tasks per meta-step.");
ABSL_FLAG(double, meta_lr, 1e-3, "metatrain: Adam's learning rate.");
ABSL_FLAG(bool, first_order, true,
          "metatrain: take the inner gradients as constants; false differentiates through them "
          "(create_graph), at about three times the cost.");
ABSL_FLAG(int, val_every, 50, "metatrain: steps between meta-val checks.");
ABSL_FLAG(int, val_episodes, 200, "metatrain: episodes per setting and val set in a check.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed (the same episodes as adapt-train's for the same seed).");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads; 0 for one per core.");

namespace adaptd::train {
namespace {
namespace F = torch::nn::functional;
namespace fs = std::filesystem;
using engine::MetaLearner;

// Conv4 split after block 3. Trunk() runs blocks 1-3 of the frozen network;
// Tail() runs block 4 with the given tensors (flattened in `sizes` order:
// conv weight, conv bias, BN scale, BN shift), BN on its running
// statistics as in serving, and then adaptd's feature normalisation.
class SplitConv4 {
 public:
  static absl::StatusOr<SplitConv4> Load(const engine::Backbone& backbone,
                                         const std::string& folder) {
    if (backbone.config().format() != "conv4") {
      return absl::InvalidArgumentError(
          absl::StrCat("--model: ", folder, " is ", backbone.config().format(), ", not conv4"));
    }
    const auto& shape = backbone.info().input_shape;
    ASSIGN_OR_RETURN(std::shared_ptr<engine::FeatureNet> net, engine::MakeFeatureNet("conv4", shape));
    torch::load(net, (fs::path(folder) / backbone.config().backbone_file()).string());
    net->eval();
    SplitConv4 s;
    s.body_ = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(net->named_children()["body"]);
    if (!s.body_ || s.body_->size() != 16) {
      return absl::InternalError("conv4's body is not 4 blocks of 4 layers");
    }
    torch::NoGradGuard no_grad;
    auto params = net->named_parameters();
    auto buffers = net->named_buffers();
    std::vector<at::Tensor> parts = {params["body.12.weight"], params["body.12.bias"],
                                     params["body.13.weight"], params["body.13.bias"]};
    for (const auto& p : parts) s.sizes_.push_back(p.numel());
    for (auto& p : parts) p = p.detach().reshape({-1});
    s.init_ = torch::cat(parts);
    s.mean_ = buffers["body.13.running_mean"].detach();
    s.var_ = buffers["body.13.running_var"].detach();
    auto bn = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(s.body_->ptr(13));
    if (!bn) return absl::InternalError("conv4's layer 13 is not its last batch norm");
    s.eps_ = bn->options.eps();
    s.channels_ = parts[1].numel();
    // The split must give the backbone's own features.
    auto x = torch::rand({4, shape[0], shape[1], shape[2]});
    const double gap = (s.Tail(s.init_, s.Trunk(x)) - engine::NormalizeFeatures(net->forward(x)))
                           .abs().max().item<double>();
    if (gap > 1e-4) {
      return absl::InternalError(absl::StrFormat("the split network differs by %g", gap));
    }
    return s;
  }

  at::Tensor Trunk(const at::Tensor& x) const {
    at::Tensor y = x;
    for (auto it = body_->begin(); it != body_->begin() + 12; ++it) y = it->forward(y);
    return y;
  }

  at::Tensor Tail(const at::Tensor& flat, const at::Tensor& trunk) const {
    auto p = flat.split_with_sizes(sizes_);
    auto y = torch::conv2d(trunk, p[0].view({channels_, -1, 3, 3}), p[1], 1, 1);
    y = torch::batch_norm(y, p[2], p[3], mean_, var_, /*training=*/false, 0.0, eps_, false);
    return engine::NormalizeFeatures(torch::max_pool2d(torch::relu(y), 2).flatten(1));
  }

  const at::Tensor& init() const { return init_; }

 private:
  std::shared_ptr<torch::nn::SequentialImpl> body_;  // Keeps the network's layers alive.
  std::vector<int64_t> sizes_;
  at::Tensor init_, mean_, var_;
  double eps_ = 1e-5;
  int64_t channels_ = 0;
};

// Block 4 and a head adapted to one task.
struct Adapted {
  at::Tensor block, weight, bias;
};

// META over block 4 + head, from the prototype head and the pretrained block
// 4. Mirrors engine::AdaptHead's META (its update rule and guard), with the
// block as the meta-learner's fourth kind. `graph` as in AdaptOptions. With
// `finetune`, FINETUNE instead: plain SGD at the meta-learner's per-kind
// rates, without its network or the guard.
Adapted AdaptBlock(const SplitConv4& net, MetaLearner& meta, const EpisodeTensors& task,
                   int steps, engine::AdaptOptions::Graph graph, bool finetune = false) {
  using Graph = engine::AdaptOptions::Graph;
  const bool keep_graph = graph != Graph::kNone;
  const bool second_order = graph == Graph::kSecondOrder;
  const int64_t c = task.ways, n = task.support_labels.size(0);
  at::Tensor features;
  {
    torch::NoGradGuard no_grad;
    features = net.Tail(net.init(), task.support);
  }
  // The engine's prototype head: weight = the class prototypes, bias = -|p|^2 / 2.
  auto start = engine::AdaptHead(engine::Method::kPrototype, features, task.support_labels, c,
                                 nullptr, {});
  TORCH_CHECK(start.ok(), std::string(start.status().message()));
  const at::Tensor& prototypes = start->weight;
  const int64_t dim = features.size(1);
  const std::vector<int64_t> sizes = {c * dim, c, 1, net.init().numel()};
  auto loss_of = [&](const at::Tensor& flat) {
    auto p = flat.split_with_sizes(sizes);
    auto logits = p[2].exp() * engine::HeadLogits(net.Tail(p[3], task.support),
                                                  p[0].view({c, dim}), p[1]);
    return F::cross_entropy(logits, task.support_labels);
  };
  engine::TaskStats stats;
  stats.ways = static_cast<double>(c);
  stats.shots = static_cast<double>(n) / c;
  stats.spread = (features - prototypes.index_select(0, task.support_labels)).pow(2).sum(1).mean();
  auto plan = meta->Prepare(sizes, stats, features.options());
  at::Tensor params = torch::cat({prototypes.reshape({-1}), start->bias, torch::zeros({1}), net.init()})
                          .requires_grad_(true);
  at::Tensor loss = loss_of(params);
  for (int step = 0; step < steps; ++step) {
    at::Tensor grads = torch::autograd::grad({loss}, {params}, {}, /*retain_graph=*/keep_graph,
                                             /*create_graph=*/second_order)[0];
    at::Tensor l = second_order ? loss : loss.detach();
    {
      // Serving-style adaptation keeps no history across steps: each step's
      // parameters are a fresh leaf.
      std::optional<torch::NoGradGuard> no_grad;
      if (!keep_graph) no_grad.emplace();
      if (finetune) {
        params = params - plan.lr * grads;
      } else {
        at::Tensor candidate = params - meta->Update(plan, params, grads, step, steps, l);
        at::Tensor keep;
        {
          torch::NoGradGuard guard_only;  // The guard's choice is not differentiated.
          keep = loss_of(candidate) <= l;
        }
        params = torch::where(keep, candidate, params);
      }
    }
    if (!keep_graph) params = params.detach().requires_grad_(true);
    // Autograd needs the loss of these very tensors (as in AdaptHead).
    loss = loss_of(params);
  }
  auto p = params.split_with_sizes(sizes);
  at::Tensor scale = p[2].exp();
  Adapted a{p[3], p[0].view({c, dim}) * scale, p[1] * scale};
  if (!keep_graph) {
    a.block = a.block.detach();
    a.weight = a.weight.detach();
    a.bias = a.bias.detach();
  }
  return a;
}

// The engine's meta-learner with a fourth kind, started as SGD at
// (lr_head, lr_head, lr_head, lr_block).
MetaLearner MakeMeta() {
  MetaLearner meta(absl::GetFlag(FLAGS_lr_head), absl::GetFlag(FLAGS_hidden), 4);
  torch::NoGradGuard no_grad;
  meta->named_parameters()["log_lr"][3].fill_(std::log(absl::GetFlag(FLAGS_lr_block)));
  return meta;
}

// One scored set of episodes: trunk outputs and final features of a data set,
// and the samplers to draw from it.
struct Part {
  std::string name;
  at::Tensor trunk, features;
  EpisodeSampler sampler;
};

absl::StatusOr<std::pair<at::Tensor, at::Tensor>> Embed(const engine::Backbone& backbone,
                                                        const SplitConv4& net, const Dataset& data) {
  ASSIGN_OR_RETURN(at::Tensor trunk,
                   EmbedDataset(backbone, data, [&](const at::Tensor& x) -> absl::StatusOr<at::Tensor> {
                     torch::NoGradGuard no_grad;
                     return net.Trunk(x);
                   }));
  torch::NoGradGuard no_grad;
  return std::make_pair(trunk, net.Tail(net.init(), trunk));
}

absl::StatusOr<Dataset> LoadSpec(absl::string_view spec, Split split) {
  ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(spec));
  if (data.group_splits.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(spec, " has no train/val/test split"));
  }
  return SplitClasses(data, split);
}

// The meta-val parts, as adapt-train metatrain draws them: 5-way 1- and
// 5-shot of --data's val split, then of each --val_data's.
absl::StatusOr<std::vector<Part>> ValParts(const engine::Backbone& backbone, const SplitConv4& net) {
  std::vector<std::string> specs = {absl::GetFlag(FLAGS_data)};
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_val_data), ',', absl::SkipWhitespace())) {
    specs.emplace_back(s);
  }
  std::vector<Part> parts;
  for (size_t d = 0; d < specs.size(); ++d) {
    ASSIGN_OR_RETURN(Dataset val, LoadSpec(specs[d], Split::kVal));
    ASSIGN_OR_RETURN(auto embedded, Embed(backbone, net, val));
    ASSIGN_OR_RETURN(std::vector<EpisodeSampler> samplers,
                     SamplersFor(val, {{5, 1}, {5, 5}}, 15, absl::GetFlag(FLAGS_seed) + 7 + d));
    for (EpisodeSampler& s : samplers) {
      parts.push_back({absl::StrFormat("%s val %dw%ds", specs[d], s.options().ways, s.options().shots),
                       embedded.first, embedded.second, std::move(s)});
    }
  }
  return parts;
}

struct Score {
  double accuracy = 0, ci = 0, adapt_ms = 0;
};

// A method: adapts to one episode (trunk rows and final-feature rows) and
// returns the query logits.
using Method = std::function<at::Tensor(const EpisodeTensors& trunk, const EpisodeTensors& final)>;

Score ScorePart(const Part& part, int episodes, const Method& method) {
  std::vector<double> acc;
  double ms = 0;
  for (int e = 0; e < episodes; ++e) {
    const Episode episode = part.sampler.Sample(e);
    EpisodeTensors trunk = GatherEpisode(part.trunk, episode);
    EpisodeTensors final = GatherEpisode(part.features, episode);
    const auto start = std::chrono::steady_clock::now();
    at::Tensor logits = method(trunk, final);
    ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    acc.push_back(logits.argmax(1).eq(final.query_labels).to(torch::kDouble).mean().item<double>());
  }
  double mean = 0, var = 0;
  for (double a : acc) mean += a / acc.size();
  for (double a : acc) var += (a - mean) * (a - mean) / std::max<size_t>(acc.size() - 1, 1);
  return {mean, 1.96 * std::sqrt(var / acc.size()), ms / std::max(episodes, 1)};
}

Method HeadMethod(engine::Method which) {
  return [which](const EpisodeTensors&, const EpisodeTensors& f) {
    engine::AdaptOptions options;
    options.steps = 5;
    options.finetune_lr = absl::GetFlag(FLAGS_lr_head);
    auto head = engine::AdaptHead(which, f.support, f.support_labels, f.ways, nullptr, options);
    TORCH_CHECK(head.ok(), std::string(head.status().message()));
    return engine::HeadLogits(f.query, head->weight, head->bias);
  };
}

Method BlockMethod(const SplitConv4& net, MetaLearner& meta, int steps, bool finetune = false) {
  return [&net, &meta, steps, finetune](const EpisodeTensors& t, const EpisodeTensors&) {
    Adapted a = AdaptBlock(net, meta, t, steps, engine::AdaptOptions::Graph::kNone, finetune);
    torch::NoGradGuard no_grad;
    return engine::HeadLogits(net.Tail(a.block, t.query), a.weight, a.bias);
  };
}

// Mean accuracy of META over block 4 + head across `parts`, `episodes` each.
double Check(const std::vector<Part>& parts, int episodes, const SplitConv4& net, MetaLearner& meta) {
  meta->eval();
  double sum = 0;
  const Method method = BlockMethod(net, meta, absl::GetFlag(FLAGS_steps));
  for (const Part& part : parts) sum += ScorePart(part, episodes, method).accuracy;
  meta->train();
  return sum / std::max<size_t>(parts.size(), 1);
}

absl::Status EvalCommand(const engine::Backbone& backbone, const SplitConv4& net) {
  ASSIGN_OR_RETURN(std::vector<Part> parts, ValParts(backbone, net));
  const size_t val_parts = parts.size();
  if (absl::GetFlag(FLAGS_fashion)) {
    ASSIGN_OR_RETURN(Dataset fashion, LoadFashionMnist(kFashionMnistDir, /*test_split=*/true));
    ASSIGN_OR_RETURN(auto embedded, Embed(backbone, net, fashion));
    for (int shots : {1, 5}) {
      ASSIGN_OR_RETURN(EpisodeSampler s, EpisodeSampler::Create(
                                             fashion, {5, shots, 15, absl::GetFlag(FLAGS_seed)}));
      parts.push_back({absl::StrFormat("fashion-mnist test 5w%ds", shots), embedded.first,
                       embedded.second, std::move(s)});
    }
  }
  MetaLearner untrained = MakeMeta();
  untrained->eval();
  std::optional<MetaLearner> trained;
  if (!absl::GetFlag(FLAGS_meta_learner).empty()) {
    trained = MakeMeta();
    RETURN_IF_ERROR(engine::LoadMetaLearner(absl::GetFlag(FLAGS_meta_learner), &*trained));
  }
  const int steps = absl::GetFlag(FLAGS_steps);
  const double lr_head = absl::GetFlag(FLAGS_lr_head), lr_block = absl::GetFlag(FLAGS_lr_block);
  std::vector<std::pair<std::string, Method>> methods = {
      {"PROTOTYPE", HeadMethod(engine::Method::kPrototype)},
      {absl::StrFormat("FINETUNE-5, head only, lr %g", lr_head),
       HeadMethod(engine::Method::kFinetune)}};
  for (int finetune_steps : {steps, 10 * steps}) {
    methods.push_back({absl::StrFormat("FINETUNE-%d over block 4 + head, lr %g / %g",
                                       finetune_steps, lr_head, lr_block),
                       BlockMethod(net, untrained, finetune_steps, /*finetune=*/true)});
  }
  methods.push_back({absl::StrFormat("META-%d over block 4 + head, untrained", steps),
                     BlockMethod(net, untrained, steps)});
  if (trained) {
    methods.push_back({absl::StrFormat("META-%d over block 4 + head, %s", steps,
                                       absl::GetFlag(FLAGS_meta_learner)),
                       BlockMethod(net, *trained, steps)});
  }
  const int episodes = absl::GetFlag(FLAGS_episodes);
  Progress progress("eval", static_cast<int64_t>(methods.size() * parts.size()));
  std::string header = "| method | ", rule = "|---|";
  for (const Part& p : parts) absl::StrAppend(&header, p.name, " | ");
  for (size_t i = 0; i < parts.size() + 2; ++i) absl::StrAppend(&rule, "---|");
  std::printf("%smeta-val mean | adapt ms (mean) |\n%s\n", header.c_str(), rule.c_str());
  int64_t done = 0;
  for (const auto& [name, method] : methods) {
    std::string row = absl::StrCat("| ", name, " | ");
    double val_sum = 0, ms = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      Score s = ScorePart(parts[i], episodes, method);
      absl::StrAppendFormat(&row, "%.2f%% ± %.2f | ", 100 * s.accuracy, 100 * s.ci);
      if (i < val_parts) val_sum += s.accuracy;
      ms += s.adapt_ms / parts.size();
      progress.Update(++done, name);
    }
    absl::StrAppendFormat(&row, "%.2f%% | %.2f |", 100 * val_sum / val_parts, ms);
    std::printf("%s\n", row.c_str());
    std::fflush(stdout);
  }
  progress.Finish("");
  return absl::OkStatus();
}

absl::Status MetaTrainCommand(const engine::Backbone& backbone, const SplitConv4& net) {
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  torch::manual_seed(seed);
  std::vector<std::string> specs = {absl::GetFlag(FLAGS_data)};
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_extra_data), ',', absl::SkipWhitespace())) {
    specs.emplace_back(s);
  }
  std::vector<at::Tensor> trunks;
  std::vector<std::vector<EpisodeSampler>> samplers;
  for (size_t d = 0; d < specs.size(); ++d) {
    ASSIGN_OR_RETURN(Dataset train, LoadSpec(specs[d], Split::kTrain));
    ASSIGN_OR_RETURN(auto embedded, Embed(backbone, net, train));
    trunks.push_back(embedded.first);
    ASSIGN_OR_RETURN(auto s, SamplersFor(train, {{5, 1}, {5, 5}, {20, 1}, {20, 5}}, 15, seed + d));
    samplers.push_back(std::move(s));
  }
  ASSIGN_OR_RETURN(std::vector<Part> val, ValParts(backbone, net));
  const std::string out = absl::GetFlag(FLAGS_out);
  fs::create_directories(out);
  const std::string result = (fs::path(out) / "meta_learner.pt").string();

  MetaLearner meta = MakeMeta();
  torch::optim::Adam optimizer(meta->parameters(),
                               torch::optim::AdamOptions(absl::GetFlag(FLAGS_meta_lr)));
  const int val_episodes = absl::GetFlag(FLAGS_val_episodes);
  double best = Check(val, val_episodes, net, meta);
  int64_t best_step = 0;
  std::string checks = absl::StrFormat("{\"step\": 0, \"accuracy\": %.5f}", best);
  RETURN_IF_ERROR(engine::SaveMetaLearner(meta, result));
  std::printf("untrained meta-val %.4f\n", best);
  const auto graph = absl::GetFlag(FLAGS_first_order) ? engine::AdaptOptions::Graph::kFirstOrder
                                                      : engine::AdaptOptions::Graph::kSecondOrder;
  const int steps = absl::GetFlag(FLAGS_meta_steps), batch = absl::GetFlag(FLAGS_meta_batch);
  Progress progress("metatrain", steps);
  double recent = 0;
  meta->train();
  for (int step = 0; step < steps; ++step) {
    std::mt19937_64 rng(seed * 1000003 + step);
    at::Tensor loss = torch::zeros({});
    for (int b = 0; b < batch; ++b) {
      const size_t d = (static_cast<size_t>(step) * batch + b) % specs.size();
      const EpisodeSampler& sampler = samplers[d][rng() % samplers[d].size()];
      EpisodeTensors task = GatherEpisode(trunks[d], sampler.Sample(int64_t{step} * batch + b));
      Adapted a = AdaptBlock(net, meta, task, absl::GetFlag(FLAGS_steps), graph);
      auto logits = engine::HeadLogits(net.Tail(a.block, task.query), a.weight, a.bias);
      loss = loss + F::cross_entropy(logits, task.query_labels) / batch;
    }
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    recent = step == 0 ? loss.item<double>() : 0.98 * recent + 0.02 * loss.item<double>();
    if ((step + 1) % absl::GetFlag(FLAGS_val_every) == 0 || step + 1 == steps) {
      const double acc = Check(val, val_episodes, net, meta);
      absl::StrAppendFormat(&checks, ", {\"step\": %d, \"accuracy\": %.5f}", step + 1, acc);
      std::fprintf(stderr, "\ncheck at step %d: meta-val %.4f (best %.4f)\n", step + 1, acc, best);
      if (acc > best) {
        best = acc;
        best_step = step + 1;
        RETURN_IF_ERROR(engine::SaveMetaLearner(meta, result));
      }
    }
    progress.Update(step + 1, absl::StrFormat("query loss %.4f  best meta-val %.4f", recent, best));
  }
  progress.Finish(absl::StrFormat("kept step %d, meta-val %.4f", best_step, best));
  std::FILE* f = std::fopen((fs::path(out) / "report.json").c_str(), "w");
  if (f == nullptr) return absl::InternalError(absl::StrCat(out, "/report.json: cannot write"));
  std::fprintf(f, "{\"kept_step\": %lld, \"checks\": [%s]}\n", static_cast<long long>(best_step),
               checks.c_str());
  std::fclose(f);
  std::printf("kept step %lld (meta-val %.4f) in %s\n", static_cast<long long>(best_step), best,
              result.c_str());
  return absl::OkStatus();
}

absl::Status Run(const std::string& command) {
  engine::ConfigureTorchThreads(absl::GetFlag(FLAGS_threads), 1);
  const std::string folder = absl::GetFlag(FLAGS_model);
  ASSIGN_OR_RETURN(auto backbone, engine::Backbone::Load(folder, c10::Device(c10::kCPU)));
  return engine::GuardTorch("adapt-block4", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(SplitConv4 net, SplitConv4::Load(*backbone, folder));
    if (command == "eval") return EvalCommand(*backbone, net);
    return MetaTrainCommand(*backbone, net);
  });
}

}  // namespace
}  // namespace adaptd::train

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "an offline experiment: META over Conv4's last block and the head.\n"
      "  adapt-block4 eval [--meta_learner data/block4/meta_learner.pt] [--fashion]\n"
      "  adapt-block4 metatrain [--meta_steps 300] [--first_order=false]\n"
      "Reads make models' data/ (the pretrained backbone in data/stage, the caches). "
      "See docs/benchmarks.md, \"Where adaptation has room: the last block\".");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2 || (std::string(args[1]) != "eval" && std::string(args[1]) != "metatrain")) {
    std::fprintf(stderr, "usage: adapt-block4 eval|metatrain [flags]; --help lists the flags\n");
    return 2;
  }
  absl::Status status = adaptd::train::Run(args[1]);
  if (!status.ok()) {
    std::fprintf(stderr, "adapt-block4 %s: %s\n", args[1], std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
