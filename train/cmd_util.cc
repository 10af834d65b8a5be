#include "train/cmd_util.h"

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/status_macros.h"
#include "train/data_cache.h"
#include "train/device.h"
#include "train/flags.h"
#include "train/splits.h"

namespace adaptd::train {

absl::StatusOr<v1::Preprocessing> ImageFlags() {
  v1::Preprocessing pre;
  ASSIGN_OR_RETURN(std::vector<int> background,
                   Numbers<int>("background", absl::GetFlag(FLAGS_background)));
  for (int b : background) pre.add_background(b);
  pre.set_resize_mode(absl::GetFlag(FLAGS_resize_mode));
  pre.set_resize_shorter_side(absl::GetFlag(FLAGS_resize_shorter_side));
  return pre;
}

namespace {

absl::StatusOr<std::vector<int>> IntList(const std::string& flag, const std::string& text) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int v = 0;
    if (!absl::SimpleAtoi(part, &v) || v < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": \"", part, "\" is not a positive integer"));
    }
    out.push_back(v);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": empty"));
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::pair<int, int>>> SettingsFromFlags(
    const std::string& default_ways) {
  const std::string ways_flag = absl::GetFlag(FLAGS_ways), shots_flag = absl::GetFlag(FLAGS_shots);
  ASSIGN_OR_RETURN(std::vector<int> ways,
                   IntList("ways", ways_flag.empty() ? default_ways : ways_flag));
  ASSIGN_OR_RETURN(std::vector<int> shots,
                   IntList("shots", shots_flag.empty() ? "1,5" : shots_flag));
  std::vector<std::pair<int, int>> settings;
  for (int w : ways) {
    for (int k : shots) settings.emplace_back(w, k);
  }
  return settings;
}

std::string OutOr(const std::string& fallback) {
  const std::string out = absl::GetFlag(FLAGS_out);
  return out.empty() ? fallback : out;
}

absl::StatusOr<std::string> DeviceFlag() {
  const std::string spec = absl::GetFlag(FLAGS_device);
  RETURN_IF_ERROR(ParseTrainDevice(spec).status());
  return spec;
}

absl::StatusOr<Dataset> SplitFlag(const Dataset& data) {
  const std::string split = absl::GetFlag(FLAGS_split);
  if (split == "all") return data;
  for (Split s : {Split::kTrain, Split::kVal, Split::kTest}) {
    if (split != SplitName(s)) continue;
    if (data.group_splits.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(absl::GetFlag(FLAGS_data), " has no split; use --split=all"));
    }
    return SplitClasses(data, s);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--split: \"", split, "\" is not train, val, test or all"));
}

absl::StatusOr<std::vector<Dataset>> SplitOfEach(const std::string& list, Split split,
                                                 absl::string_view what) {
  std::vector<Dataset> out;
  for (absl::string_view spec : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(spec));
    out.push_back(data.group_splits.empty() ? std::move(data) : SplitClasses(data, split));
    std::printf("%s: + %d classes, %lld %s from %s\n", std::string(what).c_str(),
                out.back().num_classes(), static_cast<long long>(out.back().size()),
                out.back().modality == Modality::kText ? "texts" : "images",
                std::string(spec).c_str());
  }
  return out;
}

absl::StatusOr<std::pair<Dataset, Dataset>> TrainAndVal() {
  ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(absl::GetFlag(FLAGS_data)));
  if (data.group_splits.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(absl::GetFlag(FLAGS_data), " has no train/val/test split"));
  }
  return std::make_pair(SplitClasses(data, Split::kTrain), SplitClasses(data, Split::kVal));
}

absl::StatusOr<std::vector<Dataset>> ExtraTrainSets(absl::string_view command) {
  return SplitOfEach(absl::GetFlag(FLAGS_extra_data), Split::kTrain,
                     absl::StrCat(command, " training"));
}

absl::StatusOr<std::vector<Dataset>> ValSets(Dataset own, absl::string_view command) {
  std::vector<Dataset> val;
  val.push_back(std::move(own));
  ASSIGN_OR_RETURN(
      std::vector<Dataset> more,
      SplitOfEach(absl::GetFlag(FLAGS_val_data), Split::kVal, absl::StrCat(command, " meta-val")));
  for (Dataset& set : more) val.push_back(std::move(set));
  return val;
}

}  // namespace adaptd::train
