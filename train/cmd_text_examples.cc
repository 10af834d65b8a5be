// adapt-train text-examples: a few texts of a few classes of a text set, as
// a support and a query TSV that adaptctl adapt and predict read (for demos
// and quick checks).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "train/cmd_util.h"
#include "train/command.h"
#include "train/data_cache.h"
#include "train/flags.h"
#include "train/random.h"
#include "train/splits.h"

ABSL_DECLARE_FLAG(int, per_class);         // cmd_fashion_png.cc
ABSL_DECLARE_FLAG(int, queries);           // flags.cc
ABSL_FLAG(int, num_classes, 5, "text-examples: classes written, picked at random (--seed).");

namespace adaptd::train {
namespace {

// label<TAB>text lines: `count` texts of each of `classes`, from the
// class's `offset`-th text on, in the set's order.
std::string ExamplesTsv(const Dataset& data, const std::vector<int32_t>& classes, int offset,
                        int count) {
  std::string tsv;
  for (int32_t c : classes) {
    int seen = 0;
    for (size_t i = 0; i < data.texts.size() && seen < offset + count; ++i) {
      if (data.labels[i] != c) continue;
      if (seen++ >= offset) absl::StrAppend(&tsv, data.class_names[c], "\t", data.texts[i], "\n");
    }
  }
  return tsv;
}

absl::Status RunTextExamples(const std::vector<std::string>&) {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return absl::InvalidArgumentError("--out: required (a folder)");
  const int per_class = absl::GetFlag(FLAGS_per_class);
  const int queries = absl::GetFlag(FLAGS_queries);
  const int num_classes = absl::GetFlag(FLAGS_num_classes);
  if (per_class < 1) return absl::InvalidArgumentError("--per_class: must be at least 1");
  if (queries < 1) return absl::InvalidArgumentError("--queries: must be at least 1");
  if (num_classes < 1) return absl::InvalidArgumentError("--num_classes: must be at least 1");
  ASSIGN_OR_RETURN(const Dataset all, LoadDataSpec(absl::GetFlag(FLAGS_data)));
  if (all.modality != Modality::kText) {
    return absl::InvalidArgumentError("--data: not a text set (a .tsv, a folder of <label>/*.txt "
                                      "or a text cache)");
  }
  ASSIGN_OR_RETURN(const Dataset data, SplitFlag(all));
  std::vector<int> counts(data.num_classes(), 0);
  for (int32_t label : data.labels) ++counts[label];
  std::vector<int32_t> eligible;
  for (int32_t c = 0; c < data.num_classes(); ++c) {
    if (counts[c] >= per_class + queries) eligible.push_back(c);
  }
  if (static_cast<int>(eligible.size()) < num_classes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--num_classes: only ", eligible.size(), " classes of the ", absl::GetFlag(FLAGS_split),
        " split have --per_class + --queries = ", per_class + queries, " texts"));
  }
  Rng rng(absl::GetFlag(FLAGS_seed));
  rng.Shuffle(eligible);
  eligible.resize(num_classes);
  std::sort(eligible.begin(), eligible.end());
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return absl::InternalError(absl::StrCat("--out: ", out, ": ", ec.message()));
  const std::string support = out + "/support.tsv", query = out + "/query.tsv";
  RETURN_IF_ERROR(WriteFileAtomically(support, ExamplesTsv(data, eligible, 0, per_class)));
  RETURN_IF_ERROR(WriteFileAtomically(query, ExamplesTsv(data, eligible, per_class, queries)));
  std::printf("wrote %d texts of each of %d %s classes to %s and the next %d to %s\n", per_class,
              num_classes, absl::GetFlag(FLAGS_split).c_str(), support.c_str(), queries,
              query.c_str());
  return absl::OkStatus();
}

}  // namespace

Command TextExamplesCommand() {
  return {"text-examples", "--data SET --out DIR",
          "Write a few classes of a text set as DIR/support.tsv and DIR/query.tsv.",
          "--num_classes classes of --split (test: classes never trained on), picked by\n"
          "--seed among those with --per_class + --queries texts; the first --per_class\n"
          "texts of each go to support.tsv, the next --queries to query.tsv:\n"
          "  adapt-train text-examples --data data/text/wordnet.tsv --out demo/text\n"
          "  adaptctl adapt --backbone wordnet-text demo/text/support.tsv\n"
          "  adaptctl predict --adapter ID demo/text/query.tsv   # prints the accuracy",
          {"data", "out", "split", "num_classes", "per_class", "queries", "seed"},
          RunTextExamples};
}

}  // namespace adaptd::train
