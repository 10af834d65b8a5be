// adapt-train pretrain: supervised pretraining of a native backbone.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "server/common/status_macros.h"
#include "train/cmd_util.h"
#include "train/command.h"
#include "train/dataset.h"
#include "train/flags.h"
#include "train/pretrain.h"

ABSL_FLAG(int, epochs, 50, "Training epochs over the meta-train classes.");
ABSL_FLAG(int, batch_size, 64, "Images per step.");
ABSL_FLAG(double, lr, 1e-3, "Adam learning rate.");
ABSL_FLAG(double, weight_decay, 1e-4, "L2 penalty (Adam weight decay).");
ABSL_FLAG(double, dropout, 0.5, "Dropout on the features, before the classifier.");
ABSL_FLAG(int, max_shift, 2, "Augmentation: random shifts of up to this many pixels.");
ABSL_FLAG(double, grey, 0, "Augmentation: the share of RGB images turned grey.");
ABSL_FLAG(bool, flip, false, "Augmentation: mirror half the images left to right (pictures, not glyphs).");
ABSL_FLAG(std::string, work_dir, "data/pretrain-conv4", "Checkpoints, the final backbone.pt and report.json go here.");
ABSL_FLAG(int64_t, max_steps, 0, "Stop after this many steps in all; 0 to run every epoch.");
ABSL_FLAG(int, eval_episodes, 600, "Few-shot episodes per setting for the PROTOTYPE evaluation; 0 skips it.");

namespace adaptd::train {
namespace {

absl::Status RunPretrain(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(const std::string device, DeviceFlag());
  ASSIGN_OR_RETURN(auto splits, TrainAndVal());
  Dataset& train = splits.first;
  const Dataset& val = splits.second;
  // Broader pretraining data: the extra classes join one classifier;
  // meta-val stays --data's alone.
  ASSIGN_OR_RETURN(std::vector<Dataset> extra, ExtraTrainSets("pretrain"));
  for (Dataset& more : extra) RETURN_IF_ERROR(AppendDataset(std::move(more), &train));
  PretrainOptions o;
  o.arch = absl::GetFlag(FLAGS_arch);
  o.epochs = absl::GetFlag(FLAGS_epochs);
  o.batch_size = absl::GetFlag(FLAGS_batch_size);
  o.lr = absl::GetFlag(FLAGS_lr);
  o.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  o.dropout = absl::GetFlag(FLAGS_dropout);
  o.max_shift = absl::GetFlag(FLAGS_max_shift);
  o.flip = absl::GetFlag(FLAGS_flip);
  o.grey = absl::GetFlag(FLAGS_grey);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.device = device;
  o.work_dir = absl::GetFlag(FLAGS_work_dir);
  o.resume = absl::GetFlag(FLAGS_resume);
  o.max_steps = absl::GetFlag(FLAGS_max_steps);
  o.checkpoint_seconds = absl::GetFlag(FLAGS_checkpoint_seconds);
  o.eval_episodes = absl::GetFlag(FLAGS_eval_episodes);
  ASSIGN_OR_RETURN(PretrainReport report, Pretrain(train, val, o));
  std::printf("pretrained %s: %d epochs, %lld steps, final loss %.4f accuracy %.4f; "
              "%.0f images/s, %.0fs wall, %.0fs CPU; weights in %s\n",
              o.arch.c_str(), report.epochs_done, static_cast<long long>(report.steps_done),
              report.epoch_loss.empty() ? 0.0 : report.epoch_loss.back(),
              report.epoch_accuracy.empty() ? 0.0 : report.epoch_accuracy.back(),
              report.images_per_second, report.train_seconds, report.train_cpu_seconds,
              report.weights_path.c_str());
  for (const auto& r : report.val) {
    std::printf("meta-val PROTOTYPE %d-way %d-shot: %.2f%% +- %.2f%% (%d episodes)\n", r.ways,
                r.shots, 100 * r.accuracy, 100 * r.ci95, r.episodes);
  }
  return absl::OkStatus();
}

}  // namespace

Command PretrainCommand() {
  return {"pretrain", "[--data data/glyphs.bin] [--extra_data data/clipart.bin] [--work_dir DIR]",
          "Supervised pretraining of a native backbone on the meta-train classes.",
          "A cosine-style classifier: the engine's head (scale 10) over L2-normalised features,\n"
          "with dropout before it and random shifts (and --flip, --grey) as augmentation. Adam with L2.\n"
          "Any image shape: the backbone takes the --data cache's (3x32x32 RGB from\n"
          "`data clipart --size 32 --channels 3`), and export reads it from report.json. Prints\n"
          "progress with an ETA, checkpoints every epoch (and every --checkpoint_seconds)\n"
          "and continues after an interrupt with --resume. Ends with meta-val 5-way 1-shot\n"
          "and 5-shot PROTOTYPE accuracy, computed by the engine code adaptd runs.\n"
          "On a machine that is running anything else, set OMP_WAIT_POLICY=PASSIVE or use\n"
          "--threads 1: spinning OpenMP threads made 2-thread training 9x slower on 2 busy cores.",
          {"data", "extra_data", "arch", "epochs", "batch_size", "lr", "weight_decay", "dropout",
           "max_shift", "flip", "grey", "seed", "threads", "device", "work_dir", "resume",
           "max_steps", "checkpoint_seconds", "eval_episodes"},
          RunPretrain};
}

}  // namespace adaptd::train
