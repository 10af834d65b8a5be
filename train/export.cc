#include "train/export.h"

#include <filesystem>

#include <torch/serialize.h>

#include "absl/strings/str_cat.h"
#include "server/engine/model/backbone.h"
#include "server/engine/model/nets.h"
#include "server/common/status_macros.h"
#include "server/engine/input/preprocessing.h"
#include "server/engine/runtime/torch_util.h"
#include "train/dataset.h"

namespace adaptd::train {

engine::Preprocessing DefaultPreprocessing() {
  engine::Preprocessing pre;
  pre.resize_height = kImageSide;
  pre.resize_width = kImageSide;
  pre.channels = 1;
  pre.mean = {0.5f};
  pre.std = {0.5f};
  return pre;
}

v1::ModelConfig MakeModelConfig(const std::string& name, const std::string& arch,
                                int64_t feature_dim) {
  const engine::Preprocessing pre = DefaultPreprocessing();
  v1::ModelConfig config;
  config.set_name(name);
  config.set_modality("image");
  config.add_input_shape(pre.channels);
  config.add_input_shape(pre.resize_height);
  config.add_input_shape(pre.resize_width);
  engine::PreprocessingToProto(pre, config.mutable_preprocessing());
  config.set_feature_dim(feature_dim);
  config.set_format(arch);
  config.set_backbone_file("backbone.pt");  // ExportModel sets it too.
  return config;
}

absl::Status ExportPretrained(const ExportOptions& options) {
  if (options.weights.empty()) return absl::InvalidArgumentError("weights: required");
  if (options.out_dir.empty()) return absl::InvalidArgumentError("out: required");
  if (options.name.empty()) return absl::InvalidArgumentError("name: required");
  if (!std::filesystem::exists(options.weights)) {
    return absl::NotFoundError(absl::StrCat("weights: ", options.weights, " does not exist"));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<engine::FeatureNet> net,
                   engine::MakeFeatureNet(options.arch, {1, kImageSide, kImageSide}));
  RETURN_IF_ERROR(engine::GuardTorch("loading " + options.weights, [&]() -> absl::Status {
    torch::load(net, options.weights);
    return absl::OkStatus();
  }));
  engine::MetaLearner meta(nullptr);
  if (!options.meta_learner.empty()) {
    meta = engine::MetaLearner();
    RETURN_IF_ERROR(engine::LoadMetaLearner(options.meta_learner, &meta));
  }
  v1::ModelConfig config = MakeModelConfig(options.name, options.arch, net->feature_dim());
  if (options.finetune_lr > 0) config.set_finetune_lr(static_cast<float>(options.finetune_lr));
  RETURN_IF_ERROR(engine::ExportModel(options.out_dir, config, *net, meta.is_empty() ? nullptr : &meta));
  // Load it back the way adaptd does, so a folder that would not serve is
  // caught here rather than at server start.
  auto loaded = engine::Backbone::Load(options.out_dir, c10::Device(c10::kCPU));
  if (!loaded.ok()) {
    return absl::InternalError(absl::StrCat("the exported folder ", options.out_dir,
                                            " does not load: ", loaded.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace adaptd::train
