// adapt-train proto-eval: few-shot PROTOTYPE accuracy of a model folder.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/status_macros.h"
#include "train/cmd_util.h"
#include "train/command.h"
#include "train/data_cache.h"
#include "train/dataset.h"
#include "train/flags.h"
#include "train/loaders.h"
#include "train/pretrain.h"
#include "train/splits.h"

ABSL_FLAG(std::string, split, "test", "Which split of --data to evaluate on: train, val, test or all.");

namespace adaptd::train {
namespace {

// The data set named by --data and --split: a cache file, or "fashion-mnist"
// for Fashion-MNIST's test split.
absl::StatusOr<Dataset> EvalData() {
  const std::string path = absl::GetFlag(FLAGS_data);
  if (path == "fashion-mnist") return LoadFashionMnist(absl::GetFlag(FLAGS_fashion_dir), /*test_split=*/true);
  ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(path));
  const std::string split = absl::GetFlag(FLAGS_split);
  if (split == "all") return data;
  for (Split s : {Split::kTrain, Split::kVal, Split::kTest}) {
    if (split != SplitName(s)) continue;
    if (data.group_splits.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(path, " has no split; use --split=all"));
    }
    return SplitClasses(data, s);
  }
  return absl::InvalidArgumentError(absl::StrCat("--split: \"", split, "\" is not train, val, test or all"));
}

absl::Status RunProtoEval(const std::vector<std::string>&) {
  ProtoEvalOptions o;
  ASSIGN_OR_RETURN(o.device, DeviceFlag());
  ASSIGN_OR_RETURN(Dataset data, EvalData());
  ASSIGN_OR_RETURN(o.settings, SettingsFromFlags("5"));
  o.episodes = absl::GetFlag(FLAGS_episodes);
  o.queries = absl::GetFlag(FLAGS_queries);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  const std::string model = absl::GetFlag(FLAGS_model);
  ASSIGN_OR_RETURN(std::vector<FewShotResult> results, EvaluatePrototype(model, data, o));
  std::printf("| model | data | setting | PROTOTYPE accuracy | episodes |\n|---|---|---|---|---|\n");
  for (const auto& r : results) {
    std::printf("| %s | %s (%s) | %d-way %d-shot | %.2f%% ± %.2f | %d |\n", model.c_str(),
                absl::GetFlag(FLAGS_data).c_str(), absl::GetFlag(FLAGS_split).c_str(), r.ways,
                r.shots, 100 * r.accuracy, 100 * r.ci95, r.episodes);
  }
  return absl::OkStatus();
}

}  // namespace

Command ProtoEvalCommand() {
  return {"proto-eval", "[--model models/glyphs-conv4] [--data FILE|fashion-mnist] [--split test]",
          "Few-shot PROTOTYPE accuracy of a model folder, as adaptd would adapt it.",
          "--data fashion-mnist uses Fashion-MNIST's test split (cross-domain).",
          {"model", "data", "split", "ways", "shots", "episodes", "queries", "seed", "threads",
           "device", "fashion_dir"},
          RunProtoEval};
}

}  // namespace adaptd::train
