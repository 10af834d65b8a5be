// adapt-train eval: every adaptation method on meta-test and cross-domain
// sets, written as REPORT.json, REPORT.md and REPORT.png.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/status_macros.h"
#include "train/cmd_util.h"
#include "train/data_cache.h"
#include "train/command.h"
#include "train/dataset.h"
#include "train/evaluate.h"
#include "train/flags.h"
#include "train/loaders.h"
#include "train/splits.h"

ABSL_FLAG(std::string, cross_data, "",
          "eval: more cross-domain sets, comma-separated, evaluated 5-way on their meta-test "
          "splits beside Fashion-MNIST (images), e.g. data/clipart.bin:groups; caches or text "
          "sets, \":all\" after one for every class (data/debian-packages.tsv:all).");
ABSL_FLAG(int, curve_episodes, 200, "eval: episodes per point of the accuracy-vs-steps curve.");
ABSL_FLAG(std::string, report, "",
          "eval: writes REPORT.json, REPORT.md and REPORT.png; default docs/eval/<the --model "
          "folder's name>.");

namespace adaptd::train {
namespace {

// A report row's name for a data spec: the file's stem and the view,
// "data/clipart.bin:groups" -> "clipart:groups",
// "data/debian-packages.tsv:all" -> "debian-packages".
std::string DomainName(std::string spec) {
  if (absl::EndsWith(spec, ":all")) spec.resize(spec.size() - 4);
  const size_t colon = std::min(spec.find(':'), spec.size());
  return std::filesystem::path(spec.substr(0, colon)).stem().string() + spec.substr(colon);
}

// For images, Fashion-MNIST's test split (unless --fashion_dir is empty; in
// `shape`, RGB for an RGB model); then the meta-test split of each
// --cross_data set (every class of one named with ":all").
absl::StatusOr<std::vector<CrossDomain>> CrossDomains(Modality modality, const ImageShape& shape) {
  std::vector<CrossDomain> cross;
  if (modality == Modality::kImage && !absl::GetFlag(FLAGS_fashion_dir).empty()) {
    ASSIGN_OR_RETURN(Dataset fashion,
                     LoadFashionMnist(absl::GetFlag(FLAGS_fashion_dir), /*test_split=*/true));
    cross.push_back({"fashion-mnist", ReshapeImages(std::move(fashion), shape)});
  }
  const std::string cross_data = absl::GetFlag(FLAGS_cross_data);
  std::vector<std::string> specs = absl::StrSplit(cross_data, ',', absl::SkipWhitespace());
  ASSIGN_OR_RETURN(std::vector<Dataset> more, SplitOfEach(cross_data, Split::kTest, "eval"));
  for (size_t i = 0; i < more.size(); ++i) {
    cross.push_back({DomainName(specs[i]), std::move(more[i])});
  }
  return cross;
}

absl::Status RunEval(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(const std::string device, DeviceFlag());
  ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(absl::GetFlag(FLAGS_data)));
  if (data.group_splits.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(absl::GetFlag(FLAGS_data), " has no split"));
  }
  const bool text = data.modality == Modality::kText;
  Dataset test = SplitClasses(data, Split::kTest);
  ASSIGN_OR_RETURN(std::vector<CrossDomain> cross, CrossDomains(data.modality, test.shape));
  EvalOptions o;
  // TF-IDF's document frequencies come from texts no episode draws from.
  if (text) o.tfidf_fit = SplitClasses(data, Split::kTrain);
  o.model_dir = absl::GetFlag(FLAGS_model);
  // "data/photos.bin:groups" -> "photos:groups", as the cross-domain rows.
  o.data_name = DomainName(absl::GetFlag(FLAGS_data));
  o.episodes = absl::GetFlag(FLAGS_episodes);
  o.queries = absl::GetFlag(FLAGS_queries);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.device = device;
  o.finetune_lr = absl::GetFlag(FLAGS_finetune_lr);
  o.curve_episodes = absl::GetFlag(FLAGS_curve_episodes);
  ASSIGN_OR_RETURN(o.settings, SettingsFromFlags(text ? "5,10" : "5,20"));
  o.cross_settings.clear();  // 5-way at each of the shots.
  for (const auto& [ways, shots] : o.settings) {
    const std::pair<int, int> cross{5, shots};
    if (std::find(o.cross_settings.begin(), o.cross_settings.end(), cross) ==
        o.cross_settings.end()) {
      o.cross_settings.push_back(cross);
    }
  }
  ASSIGN_OR_RETURN(EvalReport report, Evaluate(test, cross, o));
  std::string prefix = absl::GetFlag(FLAGS_report);
  if (prefix.empty()) {
    std::filesystem::path model =
        std::filesystem::path(absl::GetFlag(FLAGS_model)).lexically_normal();
    if (model.filename().empty()) model = model.parent_path();  // "models/NAME/"
    prefix = "docs/eval/" + model.filename().string();
  }
  RETURN_IF_ERROR(WriteEvalReport(report, prefix + ".json", prefix + ".md", prefix + ".png"));
  std::printf("%s", EvalMarkdown(report).c_str());
  std::printf("wrote %s.json, %s.md, %s.png\n", prefix.c_str(), prefix.c_str(), prefix.c_str());
  return absl::OkStatus();
}

}  // namespace

Command EvalCommand() {
  return {"eval", "[--model DIR] [--data data/glyphs.bin|FILE.tsv|DIR] [--report docs/eval/NAME]",
          "Compare PIXELS or TF-IDF, PROTOTYPE, FINETUNE-5/50 and META on held-out tasks.",
          "5-way and 20-way (text: 10-way), 1-shot and 5-shot (--ways, --shots) on --data's\n"
          "meta-test split; 5-way on Fashion-MNIST (images; --fashion_dir= skips it) and on\n"
          "the meta-test split of each --cross_data set. Accuracy with 95% CIs, adaptation\n"
          "time (mean, p95), compute, support loss before and after, peak memory, and a plot\n"
          "of accuracy against steps.\n"
          "Text: --data a .tsv of label<TAB>text or a folder of <label>/*.txt (split as\n"
          "pretrain splits it) with a text model; the baseline row is TF-IDF nearest centroid\n"
          "(text-baseline's, document frequencies from --data's meta-train texts) on the same\n"
          "episodes, with each method's paired difference to it.",
          {"model", "data", "ways", "shots", "cross_data", "episodes", "queries", "seed", "threads",
           "device", "finetune_lr", "curve_episodes", "report", "fashion_dir"},
          RunEval};
}

}  // namespace adaptd::train
