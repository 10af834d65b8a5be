// adapt-train tune-finetune: FINETUNE's learning rate, chosen on meta-val.
#include <cstdio>
#include <utility>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/status_macros.h"
#include "train/cmd_util.h"
#include "train/command.h"
#include "train/dataset.h"
#include "train/evaluate.h"
#include "train/flags.h"

ABSL_FLAG(std::string, lr_grid, "0.003,0.01,0.03,0.1,0.3,1",
          "tune-finetune: FINETUNE learning rates to try on meta-val.");

namespace adaptd::train {
namespace {

absl::Status RunTuneFinetune(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(const std::string device, DeviceFlag());
  ASSIGN_OR_RETURN(auto splits, TrainAndVal());
  std::vector<double> grid;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_lr_grid), ',', absl::SkipWhitespace())) {
    double lr = 0;
    if (!absl::SimpleAtod(part, &lr) || lr <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--lr_grid: \"", part, "\" is not a positive number"));
    }
    grid.push_back(lr);
  }
  ASSIGN_OR_RETURN(std::vector<Dataset> val, ValSets(std::move(splits.second), "tune-finetune"));
  double best = 0;
  ASSIGN_OR_RETURN(auto results,
                   TuneFinetuneLr(val, absl::GetFlag(FLAGS_model), grid,
                                  absl::GetFlag(FLAGS_val_episodes), absl::GetFlag(FLAGS_seed),
                                  device, &best));
  std::printf(
      "| FINETUNE lr | meta-val 5-way 1+5-shot accuracy, 5 steps (mean over sets) |\n|---|---|\n");
  for (const auto& [lr, acc] : results) std::printf("| %g | %.2f%% |\n", lr, 100 * acc);
  std::printf("best: %g\n", best);
  return absl::OkStatus();
}

}  // namespace

Command TuneFinetuneCommand() {
  return {"tune-finetune", "[--model DIR] [--data data/glyphs.bin|FILE.tsv|DIR] [--lr_grid 0.003,...,1]",
          "Pick FINETUNE's learning rate on meta-val (never on meta-test).",
          "Scores 5-step FINETUNE on 5-way 1-shot and 5-shot meta-val episodes of --data and\n"
          "of each --val_data for each rate; the best mean wins (the smallest rate on a tie).\n"
          "Text sets (a .tsv of label<TAB>text or a folder of <label>/*.txt) go with a text\n"
          "model.",
          {"model", "data", "val_data", "lr_grid", "val_episodes", "seed", "threads", "device"},
          RunTuneFinetune};
}

}  // namespace adaptd::train
