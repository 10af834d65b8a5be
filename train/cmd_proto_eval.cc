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


namespace adaptd::train {
namespace {

// The data set named by --data and --split: a cache file, a text set (.tsv
// or folder), or "fashion-mnist" for Fashion-MNIST's test split.
absl::StatusOr<Dataset> EvalData() {
  const std::string path = absl::GetFlag(FLAGS_data);
  if (path == "fashion-mnist") return LoadFashionMnist(absl::GetFlag(FLAGS_fashion_dir), /*test_split=*/true);
  ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(path));
  return SplitFlag(data);
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
  return {"proto-eval", "[--model models/glyphs-conv4] [--data FILE|FILE.tsv|DIR|fashion-mnist] [--split test]",
          "Few-shot PROTOTYPE accuracy of a model folder, as adaptd would adapt it.",
          "--data fashion-mnist uses Fashion-MNIST's test split (cross-domain); a .tsv of\n"
          "label<TAB>text or a folder of <label>/*.txt is a text set for a text model.",
          {"model", "data", "split", "ways", "shots", "episodes", "queries", "seed", "threads",
           "device", "fashion_dir"},
          RunProtoEval};
}

}  // namespace adaptd::train
