#include "train/splits.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "train/random.h"

namespace adaptd::train {

absl::Status AssignSplitsByGroup(Dataset* data, const SplitOptions& options) {
  const double test_fraction = 1.0 - options.train_fraction - options.val_fraction;
  if (options.train_fraction <= 0 || options.val_fraction <= 0 || test_fraction <= 0) {
    return absl::InvalidArgumentError(
        "split: train and val fractions must be positive and sum to less than 1");
  }
  if (data->num_groups() < 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("split: need at least 3 groups to split by group, have ", data->num_groups()));
  }
  std::vector<int64_t> classes_in(data->num_groups(), 0);
  for (int32_t g : data->class_groups) ++classes_in[g];
  std::vector<int32_t> order(data->num_groups());
  for (int32_t g = 0; g < data->num_groups(); ++g) order[g] = g;
  Rng rng(MixSeed(options.seed, {0x5b117}));
  rng.Shuffle(order);
  const double total = static_cast<double>(data->num_classes());
  double val = 0, test = 0;
  data->group_splits.assign(data->num_groups(), Split::kTrain);
  // Fill val, then test, up to their shares; everything else trains.
  for (int32_t g : order) {
    if (classes_in[g] == 0) continue;
    if (val < options.val_fraction * total) {
      data->group_splits[g] = Split::kVal;
      val += classes_in[g];
    } else if (test < test_fraction * total) {
      data->group_splits[g] = Split::kTest;
      test += classes_in[g];
    }
  }
  if (val + test >= total) {
    return absl::InvalidArgumentError(
        "split: too few groups to leave any for training; lower the val/test fractions");
  }
  return absl::OkStatus();
}

absl::Status AssignSplitsOrAllTrain(Dataset* data, const SplitOptions& options) {
  if (data->num_groups() >= 3) return AssignSplitsByGroup(data, options);
  data->group_splits.assign(data->group_names.size(), Split::kTrain);
  return absl::OkStatus();
}

Dataset SplitClasses(const Dataset& data, Split split) {
  std::vector<int32_t> classes;
  for (int32_t c = 0; c < data.num_classes(); ++c) {
    if (data.group_splits[data.class_groups[c]] == split) classes.push_back(c);
  }
  return SelectClasses(data, classes);
}

}  // namespace adaptd::train
