// adapt-train text-baseline: TF-IDF nearest centroid on a text set's
// meta-test classes, the baseline text models are measured against.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "server/common/status_macros.h"
#include "train/cmd_util.h"
#include "train/command.h"
#include "train/data_cache.h"
#include "train/flags.h"
#include "train/splits.h"
#include "train/text_baseline.h"

namespace adaptd::train {
namespace {

absl::Status RunTextBaseline(const std::vector<std::string>&) {
  const std::string spec = absl::GetFlag(FLAGS_data);
  ASSIGN_OR_RETURN(const Dataset data, LoadDataSpec(spec));
  TextBaselineOptions o;
  ASSIGN_OR_RETURN(o.settings, SettingsFromFlags("5,10"));
  o.episodes = absl::GetFlag(FLAGS_episodes);
  o.queries = absl::GetFlag(FLAGS_queries);
  o.seed = absl::GetFlag(FLAGS_seed);
  const Dataset fit = SplitClasses(data, Split::kTrain);
  const Dataset test = SplitClasses(data, Split::kTest);
  ASSIGN_OR_RETURN(const std::vector<FewShotResult> results, TfIdfNearestCentroid(fit, test, o));
  std::printf("%s: %d meta-test classes, %lld texts; idf from %lld meta-train texts\n\n",
              spec.c_str(), test.num_classes(), static_cast<long long>(test.size()),
              static_cast<long long>(fit.size()));
  std::printf("| setting | TF-IDF nearest centroid | episodes | queries per class |\n");
  std::printf("|---|---|---|---|\n");
  for (const FewShotResult& r : results) {
    std::printf("| %d-way %d-shot | %.2f%% ± %.2f | %d | %d |\n", r.ways, r.shots,
                100 * r.accuracy, 100 * r.ci95, r.episodes, r.queries);
  }
  return absl::OkStatus();
}

}  // namespace

Command TextBaselineCommand() {
  return {"text-baseline", "--data FILE.tsv|DIR [--ways 5,10] [--shots 1,5]",
          "TF-IDF nearest centroid on a text set's meta-test classes (the text baseline).",
          "--data is a TSV of label<TAB>text or a folder of <label>/*.txt, split by group (a\\n"
          "label's part before its last '/') 0.6 / 0.15 / 0.25. Words come from BERT's basic\\n"
          "tokenization (uncased); inverse document frequencies are fitted on the meta-train\\n"
          "texts. Accuracy with 95% CIs over --episodes episodes per setting.",
          {"data", "ways", "shots", "episodes", "queries", "seed"},
          RunTextBaseline};
}

}  // namespace adaptd::train
