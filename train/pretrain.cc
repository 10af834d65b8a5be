#include "train/pretrain.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/nn/functional.h>
#include <torch/nn/modules/dropout.h>
#include <torch/optim/adam.h>
#include <torch/serialize.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/status_macros.h"
#include "server/engine/adapt/adaptation.h"
#include "server/engine/input/image_ops.h"
#include "server/engine/model/backbone.h"
#include "server/engine/model/nets.h"
#include "server/engine/runtime/torch_util.h"
#include "train/checkpoint.h"
#include "train/device.h"
#include "train/episodes.h"
#include "train/export.h"
#include "train/features.h"
#include "train/json_report.h"
#include "train/progress.h"
#include "train/random.h"

namespace adaptd::train {
namespace fs = std::filesystem;
using torch::Tensor;

namespace {

constexpr char kCheckpointFile[] = "checkpoint.pt";
constexpr char kWeightsFile[] = "backbone.pt";

// The backbone, dropout on its raw features, then the engine's head over the
// normalised features: logits = kHeadScale * (f . W^T + b).
class ClassifierImpl : public torch::nn::Module {
 public:
  ClassifierImpl(std::shared_ptr<engine::FeatureNet> net, int64_t classes, double dropout)
      : net_(register_module("net", std::move(net))),
        dropout_(register_module("dropout", torch::nn::Dropout(dropout))) {
    const int64_t dim = net_->feature_dim();
    weight_ = register_parameter("weight", torch::randn({classes, dim}) / std::sqrt(double(dim)));
    bias_ = register_parameter("bias", torch::zeros({classes}));
  }
  Tensor forward(const Tensor& x) {
    return engine::HeadLogits(engine::NormalizeFeatures(dropout_(net_->forward(x))), weight_,
                              bias_);
  }
  engine::FeatureNet& net() { return *net_; }
  std::shared_ptr<engine::FeatureNet> net_ptr() { return net_; }

 private:
  std::shared_ptr<engine::FeatureNet> net_;
  torch::nn::Dropout dropout_;
  Tensor weight_, bias_;
};
TORCH_MODULE(Classifier);

// uint8 images -> [n,C,H,W] floats with the model's preprocessing, on the
// host (page-locked with `pinned`, for a copy to a GPU that does not block).
// With `rng` set, each is shifted by up to `max_shift` pixels (zeros fill in)
// and, with `flip`, mirrored left to right half of the time; an RGB image
// turns grey (PIL's luma in every channel) with probability `grey`.
Tensor MakeBatch(const Dataset& data, const int64_t* indices, int64_t n, int max_shift, bool flip,
                 double grey, Rng* rng, bool pinned) {
  const ImageShape& shape = data.shape;
  const engine::Preprocessing pre = DefaultPreprocessing(shape);
  const int64_t plane = int64_t{shape.height} * shape.width;
  Tensor x = torch::empty({n, shape.channels, shape.height, shape.width},
                          torch::TensorOptions(torch::kFloat).pinned_memory(pinned));
  float* out = x.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    int dx = 0, dy = 0;
    bool mirror = false;
    if (rng != nullptr && max_shift > 0) {
      dx = static_cast<int>(rng->Below(2 * max_shift + 1)) - max_shift;
      dy = static_cast<int>(rng->Below(2 * max_shift + 1)) - max_shift;
    }
    if (rng != nullptr && flip) mirror = rng->Below(2) == 1;
    const uint8_t* image = data.image(indices[i]);
    std::vector<uint8_t> luma;
    if (rng != nullptr && shape.channels == 3 && grey > 0 && rng->Uniform() < grey) {
      luma = engine::ToCHW(
          engine::ToColour(engine::FromCHW(image, 3, shape.height, shape.width), 1, {0, 0, 0}));
      luma.resize(3 * plane);
      std::copy_n(luma.begin(), plane, luma.begin() + plane);
      std::copy_n(luma.begin(), plane, luma.begin() + 2 * plane);
      image = luma.data();
    }
    for (int c = 0; c < shape.channels; ++c) {
      // The same arithmetic as adaptd's UINT8 path (input_decoder.cc).
      const float scale = 1.f / (255.f * pre.std[c]);
      const float offset = pre.mean[c] / pre.std[c];
      const uint8_t* in = image + c * plane;
      float* o = out + (i * shape.channels + c) * plane;
      for (int y = 0; y < shape.height; ++y) {
        const int sy = y - dy;
        for (int xx = 0; xx < shape.width; ++xx) {
          const int sx = (mirror ? shape.width - 1 - xx : xx) - dx;
          const uint8_t v = (sy >= 0 && sy < shape.height && sx >= 0 && sx < shape.width)
                                ? in[sy * shape.width + sx]
                                : 0;
          o[y * shape.width + xx] = v * scale - offset;
        }
      }
    }
  }
  return x;
}

// Where a run stands; saved with the checkpoint.
struct Position {
  int64_t epoch = 0;       // Current epoch (0-based).
  int64_t step = 0;        // Steps done within it.
  int64_t steps_done = 0;  // In all.
  std::vector<double> epoch_loss, epoch_accuracy;  // Completed epochs.
  double loss_sum = 0, correct = 0, seen = 0;      // The current epoch so far.
};

Tensor ToTensor(const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); }
std::vector<double> FromTensor(const Tensor& t) {
  auto c = t.contiguous().to(torch::kFloat64);
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

std::string RunKey(const PretrainOptions& o, const Dataset& train) {
  // The shape is named only when it is not the native 1x28x28 grey.
  return absl::StrFormat("arch=%s classes=%d images=%d seed=%d batch=%d%s", o.arch,
                         train.num_classes(), train.size(), o.seed, o.batch_size,
                         train.shape == ImageShape{} ? "" : " images=" + ShapeText(train.shape));
}

Classifier OnDevice(Classifier model, c10::Device device) {
  model->to(device);
  return model;
}

// One run: the model and its optimiser on the run's device, where the run
// stands and where it is checkpointed.
struct Run {
  Run(const Dataset& train, const PretrainOptions& options,
      std::shared_ptr<engine::FeatureNet> net, const std::string& checkpoint_path,
      c10::Device device)
      : train(train),
        options(options),
        device(device),
        model(OnDevice(Classifier(std::move(net), train.num_classes(), options.dropout), device)),
        optimizer(model->parameters(),
                  torch::optim::AdamOptions(options.lr).weight_decay(options.weight_decay)),
        checkpoint(checkpoint_path, RunKey(options, train)),
        // Drops the last partial batch.
        steps_per_epoch(train.size() / options.batch_size) {}

  const Dataset& train;
  const PretrainOptions& options;
  const c10::Device device;
  Classifier model;
  torch::optim::Adam optimizer;
  Checkpointer checkpoint;
  const int64_t steps_per_epoch;
  Position pos;
};

// The model, the optimiser and the position, so that a resumed run takes
// the same path as one never interrupted.
absl::Status SaveCheckpoint(Run& run) {
  return run.checkpoint.Save([&](torch::serialize::OutputArchive& archive) {
    torch::serialize::OutputArchive model_archive, optim_archive;
    run.model->save(model_archive);
    run.optimizer.save(optim_archive);
    const Position& pos = run.pos;
    archive.write("model", model_archive);
    archive.write("optimizer", optim_archive);
    archive.write("position", torch::tensor({pos.epoch, pos.step, pos.steps_done}, torch::kInt64));
    archive.write("epoch_loss", ToTensor(pos.epoch_loss));
    archive.write("epoch_accuracy", ToTensor(pos.epoch_accuracy));
    archive.write("epoch_sums",
                  torch::tensor({pos.loss_sum, pos.correct, pos.seen}, torch::kFloat64));
  });
}

// FAILED_PRECONDITION when the checkpoint is another run's: pretraining does
// not start over on its own. The checkpoint is read onto the CPU, whatever
// device saved it, and moved to the run's.
absl::Status LoadCheckpoint(Run& run) {
  const absl::Status loaded = run.checkpoint.Load([&](torch::serialize::InputArchive& archive) {
    torch::serialize::InputArchive model_archive, optim_archive;
    archive.read("model", model_archive);
    archive.read("optimizer", optim_archive);
    run.model->load(model_archive);
    run.optimizer.load(optim_archive);
    Tensor position, loss, accuracy, sums;
    archive.read("position", position);
    archive.read("epoch_loss", loss);
    archive.read("epoch_accuracy", accuracy);
    archive.read("epoch_sums", sums);
    Position& pos = run.pos;
    pos.epoch = position[0].item<int64_t>();
    pos.step = position[1].item<int64_t>();
    pos.steps_done = position[2].item<int64_t>();
    pos.epoch_loss = FromTensor(loss);
    pos.epoch_accuracy = FromTensor(accuracy);
    const auto s = FromTensor(sums);
    pos.loss_sum = s.at(0);
    pos.correct = s.at(1);
    pos.seen = s.at(2);
    run.model->to(run.device);
    MoveAdamState(run.optimizer, run.device);
  });
  if (absl::IsFailedPrecondition(loaded)) {
    return absl::FailedPreconditionError(
        absl::StrCat(loaded.message(), "; remove it or drop --resume"));
  }
  return loaded;
}

// backbone.pt: the network alone, what `export` loads; saved from the CPU,
// so that it loads without CUDA.
absl::Status SaveWeights(engine::FeatureNet& net, c10::Device device, const std::string& path) {
  return SaveFromCpu(net, device, [&] {
    return engine::GuardTorch("saving " + path, [&]() -> absl::Status {
      torch::serialize::OutputArchive archive;
      net.save(archive);
      return SaveArchive(archive, path);
    });
  });
}

absl::StatusOr<std::vector<FewShotResult>> EvaluateOn(const engine::Backbone& backbone,
                                                      const Dataset& data,
                                                      const ProtoEvalOptions& options) {
  ASSIGN_OR_RETURN(Tensor features, EmbedDataset(backbone, data));
  size_t smallest = SIZE_MAX;
  for (const auto& images : data.IndicesByClass()) smallest = std::min(smallest, images.size());
  std::vector<FewShotResult> results;
  for (const auto& [ways, shots] : options.settings) {
    EpisodeOptions eo;
    eo.ways = ways;
    eo.shots = shots;
    // Small sets (few instances per class) get fewer queries rather than an
    // error; at least one.
    eo.queries = std::max<int>(
        1, std::min<int64_t>(options.queries, static_cast<int64_t>(smallest) - shots));
    eo.seed = MixSeed(options.seed, {static_cast<uint64_t>(ways), static_cast<uint64_t>(shots)});
    ASSIGN_OR_RETURN(EpisodeSampler sampler, EpisodeSampler::Create(data, eo));
    std::vector<double> accuracies;
    for (int e = 0; e < options.episodes; ++e) {
      const EpisodeTensors task = GatherEpisode(features, sampler.Sample(e));
      ASSIGN_OR_RETURN(engine::HeadResult head,
                       engine::AdaptHead(engine::Method::kPrototype, task.support,
                                         task.support_labels, ways, nullptr,
                                         engine::AdaptOptions()));
      const Tensor predicted = engine::HeadLogits(task.query, head.weight, head.bias).argmax(1);
      const double accuracy = predicted.eq(task.query_labels)
                                  .to(torch::kFloat64)
                                  .mean()
                                  .to(torch::kCPU)
                                  .item<double>();
      accuracies.push_back(accuracy);
    }
    results.push_back(SummarizeEpisodes(ways, shots, eo.queries, accuracies));
  }
  return results;
}

// report.json: the options, the training history and meta-val accuracy.
nlohmann::ordered_json ReportJson(const PretrainOptions& o, const PretrainReport& r,
                                  const Dataset& train) {
  nlohmann::ordered_json val = nlohmann::ordered_json::array();
  for (const auto& v : r.val) {
    val.push_back({{"ways", v.ways},
                   {"shots", v.shots},
                   {"episodes", v.episodes},
                   {"accuracy", Rounded(v.accuracy, 4)},
                   {"ci95", Rounded(v.ci95, 4)}});
  }
  auto nums = [](const std::vector<double>& v) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (double d : v) out.push_back(Rounded(d, 4));
    return out;
  };
  return {{"arch", o.arch},
          {"input_shape", train.shape.dims()},
          {"classes", train.num_classes()},
          {"images", train.size()},
          {"epochs", o.epochs},
          {"batch_size", o.batch_size},
          {"lr", o.lr},
          {"weight_decay", o.weight_decay},
          {"dropout", o.dropout},
          {"max_shift", o.max_shift},
          {"flip", o.flip},
          {"grey", o.grey},
          {"seed", o.seed},
          {"epochs_done", r.epochs_done},
          {"steps_done", r.steps_done},
          {"epoch_loss", nums(r.epoch_loss)},
          {"epoch_accuracy", nums(r.epoch_accuracy)},
          {"train_seconds", Rounded(r.train_seconds, 1)},
          {"train_cpu_seconds", Rounded(r.train_cpu_seconds, 1)},
          {"images_per_second", Rounded(r.images_per_second, 1)},
          {"meta_val_prototype", std::move(val)}};
}

// Set by SIGINT/SIGTERM while a run is in progress: the run checkpoints at
// the end of the current step and returns CANCELLED.
std::atomic<bool> g_interrupted{false};
extern "C" void OnInterrupt(int) { g_interrupted.store(true); }

// Installs OnInterrupt for SIGINT and SIGTERM for its lifetime; a second
// signal during the final checkpoint kills the process as usual.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted.store(false);
    struct sigaction action = {};
    action.sa_handler = OnInterrupt;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  struct sigaction old_int_ = {}, old_term_ = {};
};

absl::Status ValidateOptions(const Dataset& train, const PretrainOptions& o) {
  if (o.work_dir.empty()) return absl::InvalidArgumentError("work_dir: required");
  if (o.epochs < 1) return absl::InvalidArgumentError("epochs: must be at least 1");
  if (o.batch_size < 2) return absl::InvalidArgumentError("batch_size: must be at least 2");
  if (!(o.lr > 0)) return absl::InvalidArgumentError("lr: must be positive");
  if (o.weight_decay < 0) return absl::InvalidArgumentError("weight_decay: must not be negative");
  if (o.dropout < 0 || o.dropout >= 1) return absl::InvalidArgumentError("dropout: must be in [0,1)");
  if (o.grey < 0 || o.grey > 1) return absl::InvalidArgumentError("grey: must be in [0,1]");
  const int side = std::min(train.shape.height, train.shape.width);
  if (o.max_shift < 0 || o.max_shift >= side) {
    return absl::InvalidArgumentError(absl::StrCat("max_shift: must be in [0,", side - 1, "]"));
  }
  if (train.shape.channels != 1 && train.shape.channels != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("data: pretrain takes grey or RGB images, not ", ShapeText(train.shape)));
  }
  if (train.num_classes() < 2) {
    return absl::InvalidArgumentError("data: pretraining needs at least 2 classes");
  }
  if (train.size() < o.batch_size) {
    return absl::InvalidArgumentError(absl::StrCat("data: ", train.size(),
                                                   " images are fewer than one batch of ",
                                                   o.batch_size));
  }
  return train.Validate();
}

// One optimiser step on batch pos.step of the epoch's `order`; advances the
// position and returns the loss. INTERNAL when the loss is not finite.
absl::StatusOr<double> Step(Run& run, const std::vector<int64_t>& order) {
  const PretrainOptions& options = run.options;
  Position& pos = run.pos;
  Rng rng(MixSeed(options.seed, {static_cast<uint64_t>(pos.epoch),
                                 static_cast<uint64_t>(pos.step), 0xa4u}));
  torch::manual_seed(rng.Next() >> 1);  // Dropout.
  const int64_t* batch = order.data() + pos.step * options.batch_size;
  // Built on the host; on a GPU copied from page-locked memory without
  // blocking, so that the copy overlaps what the device still runs.
  const bool pinned = run.device.is_cuda();
  Tensor x = MakeBatch(run.train, batch, options.batch_size, options.max_shift, options.flip,
                       options.grey, &rng, pinned);
  Tensor target = torch::empty({options.batch_size},
                               torch::TensorOptions(torch::kInt64).pinned_memory(pinned));
  int64_t* y = target.data_ptr<int64_t>();
  for (int i = 0; i < options.batch_size; ++i) y[i] = run.train.labels[batch[i]];
  x = x.to(run.device, x.scalar_type(), /*non_blocking=*/true);
  target = target.to(run.device, target.scalar_type(), /*non_blocking=*/true);
  Tensor logits = run.model->forward(x);
  Tensor loss = torch::nn::functional::cross_entropy(logits, target);
  run.optimizer.zero_grad();
  loss.backward();
  run.optimizer.step();
  // The loss and the correct count reach the host together, in one copy.
  const Tensor host = torch::stack({loss.detach().to(torch::kFloat64),
                                    logits.argmax(1).eq(target).sum().to(torch::kFloat64)})
                          .to(torch::kCPU);
  const double l = host[0].item<double>();
  if (!std::isfinite(l)) {
    return absl::InternalError(absl::StrCat("pretrain: loss became ", l, " at epoch ",
                                            pos.epoch + 1, " step ", pos.step + 1,
                                            "; lower --lr"));
  }
  const double correct = host[1].item<double>();
  pos.loss_sum += l * options.batch_size;
  pos.correct += correct;
  pos.seen += options.batch_size;
  ++pos.step;
  ++pos.steps_done;
  return l;
}

// Closes a finished epoch: its mean loss and accuracy join the history.
void EndEpoch(Run& run) {
  Position& pos = run.pos;
  pos.epoch_loss.push_back(pos.loss_sum / pos.seen);
  pos.epoch_accuracy.push_back(pos.correct / pos.seen);
  if (run.options.progress) {
    std::fprintf(stderr, "%spretrain: epoch %lld/%d loss %.4f accuracy %.4f\n",
                 isatty(2) ? "\r\033[K" : "", static_cast<long long>(pos.epoch + 1),
                 run.options.epochs, pos.epoch_loss.back(), pos.epoch_accuracy.back());
  }
  ++pos.epoch;
  pos.step = 0;
  pos.loss_sum = pos.correct = pos.seen = 0;
}

// Trains until `stop_at` steps are done in all, checkpointing at the end of
// every epoch and every options.checkpoint_seconds; fills the report's
// step losses and this run's times. CANCELLED, after a checkpoint, on
// SIGINT or SIGTERM.
absl::Status TrainSteps(Run& run, int64_t stop_at, PretrainReport* report) {
  const PretrainOptions& options = run.options;
  Position& pos = run.pos;
  Progress progress("pretrain step", stop_at, pos.steps_done);
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  auto last_checkpoint = start;
  int64_t images = 0;
  run.model->train();
  std::vector<int64_t> order(run.train.size());
  while (pos.steps_done < stop_at) {
    // The epoch's order and every step's randomness come from the seed and
    // the position alone, so a resumed run takes the same path.
    for (int64_t i = 0; i < run.train.size(); ++i) order[i] = i;
    Rng shuffle(MixSeed(options.seed, {static_cast<uint64_t>(pos.epoch), 0x5u}));
    shuffle.Shuffle(order);
    while (pos.step < run.steps_per_epoch && pos.steps_done < stop_at) {
      ASSIGN_OR_RETURN(const double loss, Step(run, order));
      report->step_loss.push_back(static_cast<float>(loss));
      images += options.batch_size;
      if (options.progress) {
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        progress.Update(pos.steps_done,
                        absl::StrFormat("epoch %d/%d step %d/%d loss %.3f acc %.3f | %.0f img/s",
                                        pos.epoch + 1, options.epochs, pos.step,
                                        run.steps_per_epoch, pos.loss_sum / pos.seen,
                                        pos.correct / pos.seen, images / std::max(secs, 1e-9)));
      }
      if (options.on_step) options.on_step(pos.steps_done);
      if (g_interrupted.load()) {
        RETURN_IF_ERROR(SaveCheckpoint(run));
        if (options.progress) progress.Finish("interrupted");
        return absl::CancelledError(absl::StrCat(
            "interrupted at step ", pos.steps_done, "; checkpoint saved in ",
            run.checkpoint.path(), "; run again with --resume to continue"));
      }
      const auto now = std::chrono::steady_clock::now();
      if (options.checkpoint_seconds > 0 &&
          std::chrono::duration<double>(now - last_checkpoint).count() >
              options.checkpoint_seconds) {
        RETURN_IF_ERROR(SaveCheckpoint(run));
        last_checkpoint = now;
      }
    }
    if (pos.step >= run.steps_per_epoch) EndEpoch(run);
    RETURN_IF_ERROR(SaveCheckpoint(run));
    last_checkpoint = std::chrono::steady_clock::now();
  }
  if (options.progress) progress.Finish("done");
  report->train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report->images_per_second = images / std::max(report->train_seconds, 1e-9);
  report->train_cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  return absl::OkStatus();
}

// The position's history in the report; a partial last epoch (max_steps)
// counts as one.
void ReportPosition(const Position& pos, PretrainReport* report) {
  report->epochs_done = static_cast<int>(pos.epoch);
  report->steps_done = pos.steps_done;
  report->epoch_loss = pos.epoch_loss;
  report->epoch_accuracy = pos.epoch_accuracy;
  if (pos.seen > 0) {
    report->epoch_loss.push_back(pos.loss_sum / pos.seen);
    report->epoch_accuracy.push_back(pos.correct / pos.seen);
  }
}

// Meta-val PROTOTYPE accuracy of the trained backbone, as adaptd would adapt.
absl::StatusOr<std::vector<FewShotResult>> EvaluateVal(Run& run, const Dataset& val) {
  const PretrainOptions& options = run.options;
  ASSIGN_OR_RETURN(auto backbone,
                   engine::Backbone::FromNet(
                       MakeModelConfig("pretrain", options.arch, run.model->net().feature_dim(),
                                       DefaultPreprocessing(run.train.shape)),
                       run.model->net_ptr(), engine::MetaLearner(nullptr), run.device));
  ProtoEvalOptions eval;
  eval.episodes = options.eval_episodes;
  eval.seed = options.seed;
  eval.threads = options.threads;
  ASSIGN_OR_RETURN(std::vector<FewShotResult> results, EvaluateOn(*backbone, val, eval));
  for (const auto& r : results) {
    std::fprintf(stderr,
                 "pretrain: meta-val PROTOTYPE %d-way %d-shot: %.2f%% +- %.2f (%d episodes)\n",
                 r.ways, r.shots, 100 * r.accuracy, 100 * r.ci95, r.episodes);
  }
  return results;
}

// With options.resume, continues from the checkpoint if there is one.
absl::Status ResumeIfAsked(Run& run) {
  if (!run.options.resume) return absl::OkStatus();
  if (!run.checkpoint.Exists()) {
    std::fprintf(stderr, "pretrain: no checkpoint in %s; starting afresh\n",
                 run.options.work_dir.c_str());
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(LoadCheckpoint(run));
  std::fprintf(stderr, "pretrain: resuming %s at epoch %lld step %lld\n",
               run.checkpoint.path().c_str(), static_cast<long long>(run.pos.epoch + 1),
               static_cast<long long>(run.pos.step));
  return absl::OkStatus();
}

}  // namespace

FewShotResult SummarizeEpisodes(int ways, int shots, int queries,
                                const std::vector<double>& accuracies) {
  const int n = static_cast<int>(accuracies.size());
  double sum = 0, sum_sq = 0;
  for (double a : accuracies) {
    sum += a;
    sum_sq += a * a;
  }
  FewShotResult r;
  r.ways = ways;
  r.shots = shots;
  r.episodes = n;
  r.queries = queries;
  r.accuracy = n > 0 ? sum / n : 0;
  if (n > 1) {
    const double var = std::max(0.0, (sum_sq - n * r.accuracy * r.accuracy) / (n - 1));
    r.ci95 = 1.96 * std::sqrt(var / n);
  }
  return r;
}

absl::StatusOr<PretrainReport> Pretrain(const Dataset& train, const Dataset& val,
                                        const PretrainOptions& options) {
  ASSIGN_OR_RETURN(const c10::Device device, ParseTrainDevice(options.device));
  RETURN_IF_ERROR(ValidateOptions(train, options));
  std::error_code ec;
  fs::create_directories(options.work_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(options.work_dir, ": ", ec.message()));
  engine::ConfigureTorchThreads(options.threads, 1);

  return engine::GuardTorch("pretrain", [&]() -> absl::StatusOr<PretrainReport> {
    torch::manual_seed(MixSeed(options.seed, {Mix64(0x1417)}) >> 1);
    ASSIGN_OR_RETURN(std::shared_ptr<engine::FeatureNet> net,
                     engine::MakeFeatureNet(options.arch, train.shape.dims()));
    Run run(train, options, std::move(net),
            (fs::path(options.work_dir) / kCheckpointFile).string(), device);
    RETURN_IF_ERROR(ResumeIfAsked(run));

    InterruptGuard interrupt_guard;
    const int64_t total_steps = run.steps_per_epoch * options.epochs;
    const int64_t stop_at =
        options.max_steps > 0 ? std::min(total_steps, options.max_steps) : total_steps;
    if (options.progress) {
      const std::string where = device.is_cpu() ? "" : " on " + device.str();
      std::fprintf(stderr,
                 "pretrain: %s on %d classes, %lld images; %lld steps of %d per epoch, "
                 "%d epochs%s\n",
                 options.arch.c_str(), train.num_classes(), static_cast<long long>(train.size()),
                 static_cast<long long>(run.steps_per_epoch), options.batch_size, options.epochs,
                 where.c_str());
    }
    PretrainReport report;
    RETURN_IF_ERROR(TrainSteps(run, stop_at, &report));
    ReportPosition(run.pos, &report);
    report.weights_path = (fs::path(options.work_dir) / kWeightsFile).string();
    run.model->eval();
    RETURN_IF_ERROR(SaveWeights(run.model->net(), run.device, report.weights_path));
    if (options.eval_episodes > 0 && val.num_classes() >= 5) {
      ASSIGN_OR_RETURN(report.val, EvaluateVal(run, val));
    }
    RETURN_IF_ERROR(WriteJsonFile((fs::path(options.work_dir) / "report.json").string(),
                                  ReportJson(options, report, train)));
    return report;
  });
}

absl::StatusOr<std::vector<FewShotResult>> EvaluatePrototype(const std::string& model_dir,
                                                             const Dataset& data,
                                                             const ProtoEvalOptions& options) {
  ASSIGN_OR_RETURN(const c10::Device device, ParseTrainDevice(options.device));
  engine::ConfigureTorchThreads(options.threads, 1);
  ASSIGN_OR_RETURN(auto backbone, engine::Backbone::Load(model_dir, device));
  return EvaluateOn(*backbone, data, options);
}

}  // namespace adaptd::train
