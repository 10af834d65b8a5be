// adapt-train metatrain: episodic meta-training of the meta-learner.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/status_macros.h"
#include "train/cmd_util.h"
#include "train/command.h"
#include "train/dataset.h"
#include "train/flags.h"
#include "train/json_report.h"
#include "train/metatrain.h"

ABSL_FLAG(std::string, meta_work_dir, "data/metatrain",
          "metatrain: checkpoints, the best meta_learner.pt and report.json go here.");
ABSL_FLAG(int, meta_steps, 10000, "metatrain: meta-training steps.");
ABSL_FLAG(int, meta_batch, 32, "metatrain: tasks per meta step.");
ABSL_FLAG(double, meta_lr, 1e-4, "metatrain: Adam learning rate of the meta-learner.");
ABSL_FLAG(int, meta_hidden, 128,
          "metatrain: width of the meta-learner's class and task embeddings (a multiple of 4).");
ABSL_FLAG(int, meta_rank, 32,
          "metatrain: rank of the meta-learner's learned feature metric (0: its FiLM scale alone).");
ABSL_FLAG(int, refine_steps, 2,
          "metatrain: refinement steps after the generated head, each at learned rates "
          "(0: the generated head alone). adaptd takes at most this many.");
ABSL_FLAG(bool, first_order, false,
          "metatrain: take the refinement steps' gradients as constants (faster, cruder).");
ABSL_FLAG(std::string, settings, "5x1,5x2,5x5,10x1,10x3,20x1,20x5",
          "metatrain: WAYSxSHOTS task settings drawn uniformly for training.");
ABSL_FLAG(int, val_every, 250, "metatrain: meta-val check every this many steps (0: never).");

namespace adaptd::train {
namespace {

absl::StatusOr<std::vector<std::pair<int, int>>> Settings(const std::string& text) {
  std::vector<std::pair<int, int>> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> ws = absl::StrSplit(part, 'x');
    int w = 0, k = 0;
    if (!absl::SimpleAtoi(ws.first, &w) || !absl::SimpleAtoi(ws.second, &k) || w < 2 || k < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--settings: \"", part, "\" is not WAYSxSHOTS, e.g. 5x1"));
    }
    out.emplace_back(w, k);
  }
  if (out.empty()) return absl::InvalidArgumentError("--settings: empty");
  return out;
}

// report.json: the options that shape the result, and meta-val accuracy
// and loss before training and at each check.
nlohmann::ordered_json ReportJson(const MetaTrainOptions& o, const MetaTrainReport& r) {
  nlohmann::ordered_json val = nlohmann::ordered_json::array();
  for (size_t i = 0; i < r.val_accuracy.size(); ++i) {
    val.push_back({{"step", r.val_accuracy[i].first},
                   {"accuracy", Rounded(r.val_accuracy[i].second, 5)},
                   {"loss", Rounded(r.val_loss[i].second, 5)}});
  }
  return {{"steps_done", r.steps_done},
          {"train_seconds", Rounded(r.train_seconds, 1)},
          {"meta_batch", o.meta_batch},
          {"meta_lr", o.meta_lr},
          {"hidden", o.hidden},
          {"rank", o.rank},
          {"refine_steps", o.refine_steps},
          {"parameters", r.parameters},
          {"first_order", o.first_order},
          {"untrained_val_accuracy", Rounded(r.untrained_val_accuracy, 5)},
          {"untrained_val_loss", Rounded(r.untrained_val_loss, 5)},
          {"val", std::move(val)}};
}

absl::Status RunMetaTrain(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(const std::string device, DeviceFlag());
  ASSIGN_OR_RETURN(auto splits, TrainAndVal());
  MetaTrainOptions o;
  o.model_dir = absl::GetFlag(FLAGS_model);
  o.work_dir = absl::GetFlag(FLAGS_meta_work_dir);
  o.steps = absl::GetFlag(FLAGS_meta_steps);
  o.meta_batch = absl::GetFlag(FLAGS_meta_batch);
  o.meta_lr = absl::GetFlag(FLAGS_meta_lr);
  o.hidden = absl::GetFlag(FLAGS_meta_hidden);
  o.rank = absl::GetFlag(FLAGS_meta_rank);
  o.refine_steps = absl::GetFlag(FLAGS_refine_steps);
  ASSIGN_OR_RETURN(o.settings, Settings(absl::GetFlag(FLAGS_settings)));
  o.queries = absl::GetFlag(FLAGS_queries);
  o.first_order = absl::GetFlag(FLAGS_first_order);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.device = device;
  o.resume = absl::GetFlag(FLAGS_resume);
  o.checkpoint_seconds = absl::GetFlag(FLAGS_checkpoint_seconds);
  o.val_every = absl::GetFlag(FLAGS_val_every);
  o.val_episodes = absl::GetFlag(FLAGS_val_episodes);
  // Each extra cache is a task domain of its own: a task never mixes them.
  std::vector<Dataset> train;
  train.push_back(std::move(splits.first));
  ASSIGN_OR_RETURN(std::vector<Dataset> extra, ExtraTrainSets("metatrain"));
  for (Dataset& more : extra) train.push_back(std::move(more));
  ASSIGN_OR_RETURN(std::vector<Dataset> val, ValSets(std::move(splits.second), "metatrain"));
  ASSIGN_OR_RETURN(MetaTrainReport r, MetaTrain(train, val, o));
  const nlohmann::ordered_json report = ReportJson(o, r);
  RETURN_IF_ERROR(WriteJsonFile(o.work_dir + "/report.json", report));
  std::printf("%s", JsonText(report).c_str());
  std::printf("meta-learner: %s\n", r.meta_learner_path.c_str());
  return absl::OkStatus();
}

}  // namespace

Command MetaTrainCommand() {
  return {"metatrain",
          "--model DIR [--data data/glyphs.bin] [--meta_work_dir data/metatrain]",
          "Episodic meta-training of the meta-learner (a head generator) on a frozen backbone.",
          "The backbone's features of every cache are computed once. Each step draws\n"
          "--meta_batch tasks (ways and shots from --settings) from --data's meta-train split\n"
          "and, in turn, from each --extra_data cache (each a task domain of its own: glyphs,\n"
          "clip art, icons, emoji); the meta-learner generates each task's head from its\n"
          "support set (attention over the class prototypes: corrected prototypes, a\n"
          "task-conditioned feature metric, bias and temperature), refines it --refine_steps\n"
          "times at learned rates, and learns from the query loss. It starts as PROTOTYPE.\n"
          "Checkpoints every --checkpoint_seconds and resumes with --resume (the same run\n"
          "only: other data or options start over); keeps the meta-learner best on\n"
          "meta-val (--data's and each --val_data's, 5-way 1-shot and 5-shot, mean\n"
          "accuracy; the untrained one included) as meta_learner.pt. Whether it ships is\n"
          "choose-default's decision.",
          {"model", "data", "extra_data", "val_data", "meta_work_dir", "meta_steps", "meta_batch",
           "meta_lr", "meta_hidden", "meta_rank", "refine_steps", "first_order", "settings",
           "queries", "seed",
           "threads", "device", "resume", "checkpoint_seconds", "val_every", "val_episodes"},
          RunMetaTrain};
}

}  // namespace adaptd::train
