// adapt-train choose-default: the method a model serves when a request names
// none, and whether its meta-learner is worth shipping, decided on meta-val.
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
#include "train/evaluate.h"
#include "train/flags.h"

namespace adaptd::train {
namespace {

absl::Status RunChooseDefault(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(const std::string device, DeviceFlag());
  ASSIGN_OR_RETURN(auto splits, TrainAndVal());
  ASSIGN_OR_RETURN(std::vector<Dataset> val, ValSets(std::move(splits.second), "choose-default"));
  ASSIGN_OR_RETURN(const MethodChoice c,
                   ChooseDefaultMethod(val, absl::GetFlag(FLAGS_model),
                                       absl::GetFlag(FLAGS_val_episodes),
                                       absl::GetFlag(FLAGS_seed), device));
  std::printf("| method | meta-val 5-way 1+5-shot accuracy |\n|---|---|\n");
  std::printf("| PROTOTYPE | %.2f%% |\n| FINETUNE-5 | %.2f%% |\n", 100 * c.prototype,
              100 * c.finetune);
  if (c.has_meta) {
    std::printf("| META-5 | %.2f%% (vs PROTOTYPE %+.2f ± %.2f, vs FINETUNE-5 %+.2f ± %.2f) |\n",
                100 * c.meta, 100 * c.meta_vs_prototype, 100 * c.meta_vs_prototype_ci,
                100 * c.meta_vs_finetune, 100 * c.meta_vs_finetune_ci);
  }
  std::printf("meta_learner: %s\ndefault: %s\nreason: %s\n",
              c.has_meta ? (c.keep_meta ? "keep" : "drop") : "none", c.default_method.c_str(),
              c.reason.c_str());
  return absl::OkStatus();
}

}  // namespace

Command ChooseDefaultCommand() {
  return {"choose-default", "[--model DIR] [--data data/glyphs.bin] [--val_data ...]",
          "Decide on meta-val which method a model serves by default, and if META is worth it.",
          "PROTOTYPE, FINETUNE-5 (at the model's finetune_lr) and, where the model has a\n"
          "meta-learner, META-5, on the same 5-way 1-shot and 5-shot meta-val episodes of\n"
          "--data and each --val_data. META is kept only when it beats both by more than the\n"
          "95% CI of the paired difference, and the meta-learner should not ship otherwise;\n"
          "FINETUNE is the default only when it beats PROTOTYPE so, else PROTOTYPE. Prints\n"
          "`meta_learner: keep|drop|none`, `default: METHOD` and `reason: ...` (make models\n"
          "reads them).",
          {"model", "data", "val_data", "val_episodes", "seed", "device"},
          RunChooseDefault};
}

}  // namespace adaptd::train
