#include "train/metatrain.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <utility>

#include <torch/nn/functional.h>
#include <torch/optim/adam.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/status_macros.h"
#include "server/engine/adapt/adaptation.h"
#include "server/engine/adapt/meta_learner.h"
#include "server/engine/model/backbone.h"
#include "server/engine/runtime/torch_util.h"
#include "train/checkpoint.h"
#include "train/device.h"
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
                                      int episodes, engine::MetaLearner& meta, int refine_steps) {
  meta->eval();
  // Summed on the features' device, in double as on the host, and copied
  // to the host once.
  const auto sum_options = features.options().dtype(torch::kFloat64);
  at::Tensor correct = torch::zeros({}, sum_options), loss = torch::zeros({}, sum_options);
  double total = 0;
  for (int e = 0; e < episodes; ++e) {
    EpisodeTensors task = GatherEpisode(features, sampler.Sample(e));
    engine::AdaptOptions options;
    options.steps = refine_steps;
    ASSIGN_OR_RETURN(engine::HeadResult head,
                     engine::AdaptHead(engine::Method::kMeta, task.support, task.support_labels,
                                       task.ways, &meta, options));
    torch::NoGradGuard no_grad;
    auto logits = engine::HeadLogits(task.query, head.weight, head.bias);
    correct += logits.argmax(1).eq(task.query_labels).sum().to(torch::kFloat64);
    total += task.query_labels.size(0);
    loss += F::cross_entropy(logits, task.query_labels).to(torch::kFloat64);
  }
  meta->train();
  const at::Tensor host = torch::stack({correct, loss}).to(torch::kCPU);
  return ValResult{host[0].item<double>() / std::max(total, 1.0),
                   host[1].item<double>() / std::max(episodes, 1)};
}

// META over `episodes` tasks of each sampler: mean accuracy and query loss.
absl::StatusOr<ValResult> Validate(const std::vector<at::Tensor>& features,
                                   const std::vector<std::vector<EpisodeSampler>>& samplers,
                                   int episodes, engine::MetaLearner& meta, int refine_steps) {
  ValResult sum;
  int parts = 0;
  for (size_t d = 0; d < samplers.size(); ++d) {
    for (const EpisodeSampler& sampler : samplers[d]) {
      ASSIGN_OR_RETURN(ValResult r, ValidateOne(features[d], sampler, episodes, meta, refine_steps));
      sum.accuracy += r.accuracy;
      sum.loss += r.loss;
      ++parts;
    }
  }
  return ValResult{sum.accuracy / std::max(parts, 1), sum.loss / std::max(parts, 1)};
}

// Each data set's feature table and its samplers, one per setting.
struct TaskSets {
  std::vector<at::Tensor> features;
  std::vector<std::vector<EpisodeSampler>> samplers;
};

absl::StatusOr<TaskSets> TrainTasks(const engine::Backbone& backbone,
                                    const std::vector<Dataset>& train,
                                    const MetaTrainOptions& options) {
  TaskSets sets;
  sets.samplers.resize(train.size());
  for (size_t d = 0; d < train.size(); ++d) {
    ASSIGN_OR_RETURN(sets.samplers[d],
                     SamplersFor(train[d], options.settings, options.queries, options.seed + d));
    ASSIGN_OR_RETURN(at::Tensor f, EmbedDataset(backbone, train[d]));
    sets.features.push_back(std::move(f));
  }
  return sets;
}

// 5-way 1-shot and 5-shot tasks of each non-empty val set; none when
// checks are off.
absl::StatusOr<TaskSets> ValTasks(const engine::Backbone& backbone, const std::vector<Dataset>& val,
                                  const MetaTrainOptions& options) {
  TaskSets sets;
  if (options.val_every <= 0 || options.val_episodes <= 0) return sets;
  for (size_t d = 0; d < val.size(); ++d) {
    if (val[d].size() == 0) continue;
    ASSIGN_OR_RETURN(auto s, SamplersFor(val[d], {{5, 1}, {5, 5}}, options.queries,
                                         options.seed + 7 + d));
    sets.samplers.push_back(std::move(s));
    ASSIGN_OR_RETURN(at::Tensor f, EmbedDataset(backbone, val[d]));
    sets.features.push_back(std::move(f));
  }
  return sets;
}

// What makes a checkpoint this run's: everything but the step count, so
// that a finished run can be resumed for more steps, but not continued with
// other data or options.
std::string RunKey(const MetaTrainOptions& options, const std::vector<Dataset>& train,
                   const std::vector<Dataset>& val) {
  std::string run_key = absl::StrFormat(
      "generator %d meta_batch %d meta_lr %g hidden %d rank %d refine_steps %d queries %d "
      "first_order %d seed %d",
      engine::MetaLearnerImpl::kFormatVersion, options.meta_batch, options.meta_lr,
      options.hidden, options.rank, options.refine_steps, options.queries, options.first_order,
      options.seed);
  for (const auto& [ways, shots] : options.settings) {
    absl::StrAppend(&run_key, " ", ways, "x", shots);
  }
  for (const Dataset& d : train) {
    absl::StrAppend(&run_key, " data ", d.num_classes(), "/", d.size());
  }
  for (const Dataset& d : val) absl::StrAppend(&run_key, " val ", d.num_classes(), "/", d.size());
  return run_key;
}

engine::MetaLearnerOptions LearnerOptions(const MetaTrainOptions& options, int64_t feature_dim) {
  engine::MetaLearnerOptions o;
  o.feature_dim = feature_dim;
  o.hidden = options.hidden;
  o.rank = options.rank;
  o.refine_steps = options.refine_steps;
  return o;
}

engine::MetaLearner OnDevice(engine::MetaLearner meta, c10::Device device) {
  meta->to(device);
  return meta;
}

// The meta-learner being trained and its optimiser, on the run's device, and
// the best meta-val score so far; what a checkpoint saves.
struct Run {
  Run(const MetaTrainOptions& options, int64_t feature_dim, std::string checkpoint_path,
      std::string run_key, c10::Device device)
      : options(options),
        device(device),
        meta(OnDevice(engine::MetaLearner(LearnerOptions(options, feature_dim)), device)),
        optimizer(meta->parameters(), torch::optim::AdamOptions(options.meta_lr)),
        checkpoint(std::move(checkpoint_path), std::move(run_key)) {}

  const MetaTrainOptions& options;
  const c10::Device device;
  engine::MetaLearner meta;
  torch::optim::Adam optimizer;
  Checkpointer checkpoint;
  double best = -1;   // Accuracy, less 1e-6 times the loss; -1 before any check.
  int64_t start = 0;  // The first step of this process's part of the run.
};

absl::Status SaveCheckpoint(Run& run, int64_t step) {
  return run.checkpoint.Save([&](torch::serialize::OutputArchive& archive) {
    run.meta->save(archive);
    torch::serialize::OutputArchive opt;
    run.optimizer.save(opt);
    archive.write("optimizer", opt);
    archive.write("step", torch::tensor({static_cast<double>(step), run.best}, torch::kDouble));
  });
}

// Continues from the checkpoint if it is this run's; another run's is left
// alone and the run starts over. The checkpoint is read onto the CPU,
// whatever device saved it, and moved to the run's.
absl::Status Resume(Run& run) {
  const absl::Status loaded = run.checkpoint.Load([&](torch::serialize::InputArchive& archive) {
    run.meta->load(archive);
    torch::serialize::InputArchive opt;
    archive.read("optimizer", opt);
    run.optimizer.load(opt);
    at::Tensor state;
    archive.read("step", state);
    run.start = state[0].item<int64_t>();
    run.best = state[1].item<double>();
    run.meta->to(run.device);
    MoveAdamState(run.optimizer, run.device);
  });
  if (!absl::IsFailedPrecondition(loaded)) return loaded;
  std::printf("metatrain: %s is from a run with other data or options; starting over\n",
              run.checkpoint.path().c_str());
  return absl::OkStatus();
}

// Saved from the CPU, so that adaptd loads it with or without CUDA.
absl::Status SaveResult(Run& run, const std::string& path) {
  return SaveFromCpu(*run.meta, run.device, [&] {
    torch::serialize::OutputArchive archive;
    run.meta->save(archive);  // The layout engine::LoadMetaLearner reads.
    return SaveArchive(archive, path);
  });
}

struct StepResult {
  float loss = 0;         // Mean query loss after adaptation.
  double accuracy = 0;    // Query accuracy over the batch's tasks.
};

// One meta step: a batch of tasks, taken from the training sets in turn,
// adapted by the meta-learner; then the update by the mean query loss.
absl::StatusOr<StepResult> MetaStep(Run& run, const TaskSets& train, int64_t step) {
  const MetaTrainOptions& options = run.options;
  std::mt19937_64 rng(options.seed * 1000003 + step);
  at::Tensor loss = torch::zeros({}, train.features[0].options());
  at::Tensor correct = torch::zeros({}, train.features[0].options().dtype(torch::kLong));
  double total = 0;
  for (int b = 0; b < options.meta_batch; ++b) {
    const size_t d = (step * options.meta_batch + b) % train.samplers.size();
    const size_t which = rng() % train.samplers[d].size();
    EpisodeTensors task = GatherEpisode(
        train.features[d], train.samplers[d][which].Sample(step * options.meta_batch + b));
    engine::AdaptOptions adapt;
    adapt.steps = options.refine_steps;
    adapt.graph = options.first_order ? engine::AdaptOptions::Graph::kFirstOrder
                                      : engine::AdaptOptions::Graph::kSecondOrder;
    ASSIGN_OR_RETURN(engine::HeadResult head,
                     engine::AdaptHead(engine::Method::kMeta, task.support, task.support_labels,
                                       task.ways, &run.meta, adapt));
    auto logits = engine::HeadLogits(task.query, head.weight, head.bias);
    loss = loss + F::cross_entropy(logits, task.query_labels) / options.meta_batch;
    correct += logits.argmax(1).eq(task.query_labels).sum();
    total += task.query_labels.size(0);
  }
  run.optimizer.zero_grad();
  loss.backward();
  run.optimizer.step();
  // One copy to the host for both.
  const at::Tensor host =
      torch::stack({loss.detach().to(torch::kFloat64), correct.to(torch::kFloat64)})
          .to(torch::kCPU);
  return StepResult{static_cast<float>(host[0].item<double>()), host[1].item<double>() / total};
}

// A meta-val check after `step` steps: recorded in the report, and the
// meta-learner saved when it beats the best so far (accuracy first, the
// loss breaking ties).
absl::Status CheckVal(Run& run, const TaskSets& val, int64_t step, MetaTrainReport* report) {
  ASSIGN_OR_RETURN(ValResult checked, Validate(val.features, val.samplers,
                                               run.options.val_episodes, run.meta,
                                               run.options.refine_steps));
  report->val_accuracy.emplace_back(step, checked.accuracy);
  report->val_loss.emplace_back(step, checked.loss);
  const double score = checked.accuracy - 1e-6 * checked.loss;
  if (score <= run.best) return absl::OkStatus();
  run.best = score;
  return SaveResult(run, report->meta_learner_path);
}

// Steps from run.start to options.steps, with meta-val checks, checkpoints
// and progress.
absl::Status TrainSteps(Run& run, const TaskSets& train, const TaskSets& val,
                        MetaTrainReport* report) {
  const MetaTrainOptions& options = run.options;
  const bool validating = !val.samplers.empty();
  Progress progress("metatrain", options.steps, run.start);
  auto last_checkpoint = std::chrono::steady_clock::now();
  run.meta->train();
  double recent_loss = 0, recent_acc = 0;
  for (int64_t step = run.start; step < options.steps; ++step) {
    ASSIGN_OR_RETURN(const StepResult result, MetaStep(run, train, step));
    report->step_loss.push_back(result.loss);
    recent_loss = step == run.start ? result.loss : 0.98 * recent_loss + 0.02 * result.loss;
    recent_acc =
        step == run.start ? result.accuracy : 0.98 * recent_acc + 0.02 * result.accuracy;
    report->steps_done = step + 1;
    if (validating && ((step + 1) % options.val_every == 0 || step + 1 == options.steps)) {
      RETURN_IF_ERROR(CheckVal(run, val, step + 1, report));
    }
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_checkpoint).count() >=
        options.checkpoint_seconds) {
      RETURN_IF_ERROR(SaveCheckpoint(run, step + 1));
      last_checkpoint = now;
    }
    if (options.progress) {
      progress.Update(step + 1, absl::StrFormat("query loss %.4f  acc %.3f  val %.3f", recent_loss,
                                                recent_acc, run.best < 0 ? 0.0 : run.best));
    }
  }
  if (options.progress) progress.Finish(absl::StrFormat("best meta-val %.4f", run.best));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MetaTrainReport> MetaTrain(const std::vector<Dataset>& train,
                                          const std::vector<Dataset>& val,
                                          const MetaTrainOptions& options) {
  if (options.model_dir.empty()) return absl::InvalidArgumentError("model: is required");
  if (options.work_dir.empty()) return absl::InvalidArgumentError("work_dir: is required");
  if (options.steps <= 0 || options.meta_batch <= 0 || options.settings.empty() ||
      train.empty()) {
    return absl::InvalidArgumentError(
        "steps and meta_batch must be positive, settings and train non-empty");
  }
  if (options.hidden <= 0 || options.hidden % 4 != 0 || options.rank < 0 ||
      options.refine_steps < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "meta-learner sizes: hidden (%d) must be a positive multiple of 4, rank (%d) and "
        "refine_steps (%d) not negative",
        options.hidden, options.rank, options.refine_steps));
  }
  ASSIGN_OR_RETURN(const c10::Device device, ParseTrainDevice(options.device));
  engine::ConfigureTorchThreads(options.threads, 1);
  ASSIGN_OR_RETURN(auto backbone, engine::Backbone::Load(options.model_dir, device));
  std::error_code ec;
  fs::create_directories(options.work_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(options.work_dir, ": ", ec.message()));

  return engine::GuardTorch("metatrain", [&]() -> absl::StatusOr<MetaTrainReport> {
    torch::manual_seed(options.seed);
    ASSIGN_OR_RETURN(const TaskSets train_tasks, TrainTasks(*backbone, train, options));
    ASSIGN_OR_RETURN(const TaskSets val_tasks, ValTasks(*backbone, val, options));
    const bool validating = !val_tasks.samplers.empty();
    Run run(options, train_tasks.features[0].size(1),
            (fs::path(options.work_dir) / kCheckpoint).string(), RunKey(options, train, val),
            device);
    MetaTrainReport report;
    report.meta_learner_path = (fs::path(options.work_dir) / kResult).string();
    report.parameters = run.meta->parameter_count();
    if (options.resume && run.checkpoint.Exists()) RETURN_IF_ERROR(Resume(run));
    if (validating && run.start == 0) {
      ASSIGN_OR_RETURN(ValResult untrained, Validate(val_tasks.features, val_tasks.samplers,
                                                     options.val_episodes, run.meta,
                                                     options.refine_steps));
      report.untrained_val_accuracy = untrained.accuracy;
      report.untrained_val_loss = untrained.loss;
      // The untrained state (PROTOTYPE) is the bar to beat: keep it if
      // nothing beats it.
      run.best = untrained.accuracy - 1e-6 * untrained.loss;
      RETURN_IF_ERROR(SaveResult(run, report.meta_learner_path));
    }
    const auto began = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(TrainSteps(run, train_tasks, val_tasks, &report));
    RETURN_IF_ERROR(SaveCheckpoint(run, report.steps_done));
    if (!validating) RETURN_IF_ERROR(SaveResult(run, report.meta_learner_path));
    report.train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    return report;
  });
}

}  // namespace adaptd::train
