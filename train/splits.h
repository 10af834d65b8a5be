// Splits of a data set by group, Omniglot style: whole alphabets or scripts
// go to meta-train, meta-val or meta-test, so that val and test classes come
// from groups never seen in training. No LibTorch.
#ifndef ADAPTD_TRAIN_SPLITS_H_
#define ADAPTD_TRAIN_SPLITS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "train/dataset.h"

namespace adaptd::train {

struct SplitOptions {
  // Fractions of the classes, approximately, since whole groups are assigned;
  // the rest goes to test.
  double train_fraction = 0.6;
  double val_fraction = 0.15;
  uint64_t seed = 1;
};

// Assigns every group wholly to train, val or test. Deterministic in the
// seed. INVALID_ARGUMENT when there are fewer than 3 groups or the fractions
// leave a split empty.
absl::Status AssignSplitsByGroup(Dataset* data, const SplitOptions& options);

// AssignSplitsByGroup where there are at least 3 groups; with fewer, every
// group is meta-train (a small set to train on, not to evaluate).
absl::Status AssignSplitsOrAllTrain(Dataset* data, const SplitOptions& options);

// The classes of one split. REQUIRES: group_splits assigned.
Dataset SplitClasses(const Dataset& data, Split split);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_SPLITS_H_
