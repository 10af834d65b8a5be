#include "train/metatrain.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>

#include <torch/nn/functional.h>
#include <torch/optim/adam.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/engine/adaptation.h"
#include "server/engine/backbone.h"
#include "server/engine/meta_learner.h"
#include "server/engine/status_macros.h"
#include "server/engine/torch_util.h"
#include "train/episodes.h"
#include "train/features.h"
#include "train/progress.h"

namespace adaptd::train {
namespace fs = std::filesystem;
namespace F = torch::nn::functional;

namespace {

constexpr char kCheckpoint[] = "checkpoint.pt";
constexpr char kResult[] = "meta_learner.pt";

struct ValResult {
  double accuracy = 0;
  double loss = 0;  // Mean query cross-entropy after adaptation.
};

// META over `episodes` tasks of `sampler`.
absl::StatusOr<ValResult> ValidateOne(const at::Tensor& features, const EpisodeSampler& sampler,
                                      int episodes, engine::MetaLearner& meta, int inner_steps) {
  meta->eval();
  double correct = 0, total = 0, loss = 0;
  for (int e = 0; e < episodes; ++e) {
    EpisodeTensors task = GatherEpisode(features, sampler.Sample(e));
    engine::AdaptOptions options;
    options.steps = inner_steps;
    ASSIGN_OR_RETURN(engine::HeadResult head,
                     engine::AdaptHead(engine::Method::kMeta, task.support, task.support_labels,
                                       task.ways, &meta, options));
    torch::NoGradGuard no_grad;
    auto logits = engine::HeadLogits(task.query, head.weight, head.bias);
    correct += logits.argmax(1).eq(task.query_labels).sum().item<double>();
    total += task.query_labels.size(0);
    loss += F::cross_entropy(logits, task.query_labels).item<double>();
  }
  meta->train();
  return ValResult{correct / std::max(total, 1.0), loss / std::max(episodes, 1)};
}

// META over `episodes` tasks of each sampler: mean accuracy and query loss.
absl::StatusOr<ValResult> Validate(const std::vector<at::Tensor>& features,
                                   const std::vector<std::vector<EpisodeSampler>>& samplers,
                                   int episodes, engine::MetaLearner& meta, int inner_steps) {
  ValResult sum;
  int parts = 0;
  for (size_t d = 0; d < samplers.size(); ++d) {
    for (const EpisodeSampler& sampler : samplers[d]) {
      ASSIGN_OR_RETURN(ValResult r, ValidateOne(features[d], sampler, episodes, meta, inner_steps));
      sum.accuracy += r.accuracy;
      sum.loss += r.loss;
      ++parts;
    }
  }
  return ValResult{sum.accuracy / std::max(parts, 1), sum.loss / std::max(parts, 1)};
}

}  // namespace

absl::StatusOr<MetaTrainReport> MetaTrain(const std::vector<Dataset>& train,
                                          const std::vector<Dataset>& val,
                                          const MetaTrainOptions& options) {
  if (options.model_dir.empty()) return absl::InvalidArgumentError("model: is required");
  if (options.work_dir.empty()) return absl::InvalidArgumentError("work_dir: is required");
  if (options.steps <= 0 || options.meta_batch <= 0 || options.inner_steps <= 0 ||
      options.settings.empty() || train.empty()) {
    return absl::InvalidArgumentError(
        "steps, meta_batch and inner_steps must be positive, settings and train non-empty");
  }
  engine::ConfigureTorchThreads(options.threads, 1);
  ASSIGN_OR_RETURN(auto backbone, engine::Backbone::Load(options.model_dir, c10::Device(c10::kCPU)));
  std::error_code ec;
  fs::create_directories(options.work_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(options.work_dir, ": ", ec.message()));

  return engine::GuardTorch("metatrain", [&]() -> absl::StatusOr<MetaTrainReport> {
    torch::manual_seed(options.seed);
    // One feature table and one sampler per setting for each training set.
    std::vector<at::Tensor> train_features;
    std::vector<std::vector<EpisodeSampler>> samplers(train.size());
    for (size_t d = 0; d < train.size(); ++d) {
      ASSIGN_OR_RETURN(samplers[d],
                       SamplersFor(train[d], options.settings, options.queries, options.seed + d));
      ASSIGN_OR_RETURN(at::Tensor f, EmbedDataset(*backbone, train[d]));
      train_features.push_back(std::move(f));
    }
    std::vector<at::Tensor> val_features;
    std::vector<std::vector<EpisodeSampler>> val_samplers;
    if (options.val_every > 0 && options.val_episodes > 0) {
      for (size_t d = 0; d < val.size(); ++d) {
        if (val[d].size() == 0) continue;
        ASSIGN_OR_RETURN(auto s, SamplersFor(val[d], {{5, 1}, {5, 5}}, options.queries,
                                          options.seed + 7 + d));
        val_samplers.push_back(std::move(s));
        ASSIGN_OR_RETURN(at::Tensor f, EmbedDataset(*backbone, val[d]));
        val_features.push_back(std::move(f));
      }
    }
    const bool validating = !val_samplers.empty();

    engine::MetaLearner meta(options.inner_lr);
    torch::optim::Adam optimizer(meta->parameters(), torch::optim::AdamOptions(options.meta_lr));
    MetaTrainReport report;
    report.meta_learner_path = (fs::path(options.work_dir) / kResult).string();
    const std::string checkpoint = (fs::path(options.work_dir) / kCheckpoint).string();
    double best = -1;
    int64_t start = 0;
    // What makes a checkpoint this run's: everything but the step count, so
    // that a finished run can be resumed for more steps, but not continued
    // with other data or options.
    std::string run_key = absl::StrFormat(
        "meta_batch %d meta_lr %g inner_lr %g inner_steps %d queries %d first_order %d seed %d",
        options.meta_batch, options.meta_lr, options.inner_lr, options.inner_steps,
        options.queries, options.first_order, options.seed);
    for (const auto& [ways, shots] : options.settings) absl::StrAppend(&run_key, " ", ways, "x", shots);
    for (const Dataset& d : train) absl::StrAppend(&run_key, " data ", d.num_classes(), "/", d.size());
    for (const Dataset& d : val) absl::StrAppend(&run_key, " val ", d.num_classes(), "/", d.size());
    std::optional<torch::serialize::InputArchive> resumed;
    if (options.resume && fs::exists(checkpoint)) {
      resumed.emplace();
      resumed->load_from(checkpoint);
      c10::IValue key;
      if (!resumed->try_read("run", key) || !key.isString() || key.toStringRef() != run_key) {
        std::printf("metatrain: %s is from a run with other data or options; starting over\n",
                    checkpoint.c_str());
        resumed.reset();
      }
    }
    if (resumed) {
      torch::serialize::InputArchive& archive = *resumed;
      meta->load(archive);
      torch::serialize::InputArchive opt;
      archive.read("optimizer", opt);
      optimizer.load(opt);
      at::Tensor state;
      archive.read("step", state);
      start = state[0].item<int64_t>();
      best = state[1].item<double>();
    }
    auto save_checkpoint = [&](int64_t step) {
      torch::serialize::OutputArchive archive;
      meta->save(archive);
      torch::serialize::OutputArchive opt;
      optimizer.save(opt);
      archive.write("optimizer", opt);
      archive.write("step", torch::tensor({static_cast<double>(step), best}, torch::kDouble));
      archive.write("run", c10::IValue(run_key));
      const std::string tmp = checkpoint + ".tmp";
      archive.save_to(tmp);
      fs::rename(tmp, checkpoint);
    };
    auto save_result = [&]() -> absl::Status {
      const std::string tmp = report.meta_learner_path + ".tmp";
      RETURN_IF_ERROR(engine::SaveMetaLearner(meta, tmp));
      fs::rename(tmp, report.meta_learner_path);
      return absl::OkStatus();
    };

    if (validating && start == 0) {
      ASSIGN_OR_RETURN(ValResult untrained, Validate(val_features, val_samplers,
                                                     options.val_episodes, meta, options.inner_steps));
      report.untrained_val_accuracy = untrained.accuracy;
      report.untrained_val_loss = untrained.loss;
      // The untrained state (plain SGD) is the bar to beat: keep it if
      // nothing beats it.
      best = untrained.accuracy - 1e-6 * untrained.loss;
      RETURN_IF_ERROR(save_result());
    }
    const auto graph = options.first_order ? engine::AdaptOptions::Graph::kFirstOrder
                                           : engine::AdaptOptions::Graph::kSecondOrder;
    Progress progress("metatrain", options.steps, start);
    const auto began = std::chrono::steady_clock::now();
    auto last_checkpoint = began;
    meta->train();
    double recent_loss = 0, recent_acc = 0;
    for (int64_t step = start; step < options.steps; ++step) {
      std::mt19937_64 rng(options.seed * 1000003 + step);
      at::Tensor loss = torch::zeros({});
      double correct = 0, total = 0;
      for (int b = 0; b < options.meta_batch; ++b) {
        const size_t d = (step * options.meta_batch + b) % train.size();
        const size_t which = rng() % samplers[d].size();
        EpisodeTensors task = GatherEpisode(train_features[d],
                                            samplers[d][which].Sample(step * options.meta_batch + b));
        engine::AdaptOptions adapt;
        adapt.steps = options.inner_steps;
        adapt.graph = graph;
        ASSIGN_OR_RETURN(engine::HeadResult head,
                         engine::AdaptHead(engine::Method::kMeta, task.support, task.support_labels,
                                           task.ways, &meta, adapt));
        auto logits = engine::HeadLogits(task.query, head.weight, head.bias);
        loss = loss + F::cross_entropy(logits, task.query_labels) / options.meta_batch;
        correct += logits.argmax(1).eq(task.query_labels).sum().item<double>();
        total += task.query_labels.size(0);
      }
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      const float value = loss.item<float>();
      report.step_loss.push_back(value);
      recent_loss = step == start ? value : 0.98 * recent_loss + 0.02 * value;
      recent_acc = step == start ? correct / total : 0.98 * recent_acc + 0.02 * correct / total;
      report.steps_done = step + 1;
      if (validating && ((step + 1) % options.val_every == 0 || step + 1 == options.steps)) {
        ASSIGN_OR_RETURN(ValResult checked, Validate(val_features, val_samplers,
                                                     options.val_episodes, meta, options.inner_steps));
        report.val_accuracy.emplace_back(step + 1, checked.accuracy);
        report.val_loss.emplace_back(step + 1, checked.loss);
        // Accuracy first; the loss breaks ties between equal accuracies.
        const double score = checked.accuracy - 1e-6 * checked.loss;
        if (score > best) {
          best = score;
          RETURN_IF_ERROR(save_result());
        }
      }
      const auto now = std::chrono::steady_clock::now();
      if (std::chrono::duration<double>(now - last_checkpoint).count() >= options.checkpoint_seconds) {
        save_checkpoint(step + 1);
        last_checkpoint = now;
      }
      if (options.progress) {
        progress.Update(step + 1, absl::StrFormat("query loss %.4f  acc %.3f  val %.3f", recent_loss,
                                                  recent_acc, best < 0 ? 0.0 : best));
      }
    }
    save_checkpoint(report.steps_done);
    if (!validating) RETURN_IF_ERROR(save_result());
    if (options.progress) progress.Finish(absl::StrFormat("best meta-val %.4f", best));
    report.train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    return report;
  });
}

}  // namespace adaptd::train
