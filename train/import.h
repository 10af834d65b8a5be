// Wraps a user's TorchScript image backbone into a model repository folder
// that adaptd serves: any [C,H,W] input, any feature size, torchvision-style
// preprocessing. The file must load, and a probe batch must come out as
// [B,D] features; anything else is refused with what was found. No LibTorch
// in this header.
//
//   ImportOptions o;
//   o.torchscript = "resnet50.pt";
//   o.input_shape = {3, 224, 224};
//   o.preprocessing.set_resize_mode("shorter_side");
//   o.preprocessing.set_resize_shorter_side(256);
//   o.name = "resnet50";
//   o.out_dir = "models/resnet50";
//   ASSIGN_OR_RETURN(ImportReport report, ImportTorchScript(o));
#ifndef ADAPTD_TRAIN_IMPORT_H_
#define ADAPTD_TRAIN_IMPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "adaptd/v1/adaptd.pb.h"

namespace adaptd::train {

struct ImportOptions {
  // A module saved by torch.jit.save (scripted or traced). Required.
  std::string torchscript;
  // [C,H,W] of one input, C 1 (grey) or 3 (RGB). Required.
  std::vector<int64_t> input_shape;
  // mean, std, resize_mode, resize_shorter_side, background; the sizes and
  // channels come from input_shape.
  v1::Preprocessing preprocessing;
  // The model's name (what clients ask for) and its folder. Required.
  std::string name;
  std::string out_dir;
  // A meta-learner file to ship with it; empty for none.
  std::string meta_learner;
  // FINETUNE's learning rate in model.pbtxt; 0 leaves the engine's default.
  double finetune_lr = 0;
};

struct ImportReport {
  int64_t feature_dim = 0;
  int64_t parameters = 0;
};

// Checks the module (it loads; a batch of 2 zero inputs of input_shape
// gives [2,D] floats), writes out_dir (model.pbtxt, backbone.pt and the
// meta-learner) and loads it back as adaptd does. INVALID_ARGUMENT names the
// option and what is wrong; NOT_FOUND for a missing file.
absl::StatusOr<ImportReport> ImportTorchScript(const ImportOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_IMPORT_H_
