// What several adapt-train commands do with the shared flags (flags.h):
// default outputs, and the splits of --data, --extra_data and --val_data.
// Progress and results are printed on stdout. Not thread-safe (reads flags
// and prints); for the command thread.
#ifndef ADAPTD_TRAIN_CMD_UTIL_H_
#define ADAPTD_TRAIN_CMD_UTIL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "adaptd/v1/adaptd.pb.h"
#include "train/dataset.h"

namespace adaptd::train {

// A comma-separated flag's numbers; INVALID_ARGUMENT names the flag.
template <typename T>
absl::StatusOr<std::vector<T>> Numbers(const std::string& flag,
                                       const std::vector<std::string>& parts) {
  std::vector<T> out;
  for (const auto& part : parts) {
    double v = 0;
    if (!absl::SimpleAtod(part, &v)) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": \"", part, "\" is not a number"));
    }
    out.push_back(static_cast<T>(v));
  }
  return out;
}

// --resize_mode, --resize_shorter_side and --background as a model's
// preprocessing (sizes, channels, mean and std left for the caller).
absl::StatusOr<v1::Preprocessing> ImageFlags();

// Every (ways, shots) pair of --ways and --shots (comma-separated positive
// integers), with `default_ways` and "1,5" where they are empty.
absl::StatusOr<std::vector<std::pair<int, int>>> SettingsFromFlags(const std::string& default_ways);

// --out, or `fallback` when it is empty.
std::string OutOr(const std::string& fallback);

// --device, checked: commands call it before loading any data, so that a
// device this LibTorch cannot use fails at once. INVALID_ARGUMENT for a
// spelling other than cpu, cuda or cuda:N; FAILED_PRECONDITION for CUDA
// without a CUDA LibTorch or a visible GPU.
absl::StatusOr<std::string> DeviceFlag();

// The classes of `data` in --split (train, val, test, or all of them).
// FAILED_PRECONDITION for a set without a split unless --split=all.
absl::StatusOr<Dataset> SplitFlag(const Dataset& data);

// One split of each data set in a comma-separated list (LoadDataSpec;
// all of it when it is unsplit), printing what each adds as
// "<what>: + N classes, ...".
absl::StatusOr<std::vector<Dataset>> SplitOfEach(const std::string& list, Split split,
                                                 absl::string_view what);

// --data's meta-train and meta-val classes (LoadDataSpec).
// FAILED_PRECONDITION when --data has no split.
absl::StatusOr<std::pair<Dataset, Dataset>> TrainAndVal();

// The meta-train classes of each --extra_data cache, announced as
// "<command> training".
absl::StatusOr<std::vector<Dataset>> ExtraTrainSets(absl::string_view command);

// `own` (--data's meta-val classes), then the meta-val classes of each
// --val_data cache, announced as "<command> meta-val".
absl::StatusOr<std::vector<Dataset>> ValSets(Dataset own, absl::string_view command);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_CMD_UTIL_H_
