#include "train/export.h"

#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/serialize.h>

#include "absl/strings/str_cat.h"
#include "server/engine/model/backbone.h"
#include "server/engine/model/nets.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "server/engine/input/preprocessing.h"
#include "server/engine/runtime/torch_util.h"

namespace adaptd::train {

engine::Preprocessing DefaultPreprocessing(const ImageShape& shape) {
  engine::Preprocessing pre;
  pre.resize_height = shape.height;
  pre.resize_width = shape.width;
  pre.channels = shape.channels;
  pre.mean.assign(shape.channels, 0.5f);
  pre.std.assign(shape.channels, 0.5f);
  return pre;
}

v1::ModelConfig MakeModelConfig(const std::string& name, const std::string& arch,
                                int64_t feature_dim, const engine::Preprocessing& pre) {
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

absl::StatusOr<ImageShape> PretrainedShape(const std::string& weights) {
  const std::string report = (std::filesystem::path(weights).parent_path() / "report.json").string();
  if (!std::filesystem::exists(report)) return ImageShape{};
  ASSIGN_OR_RETURN(const std::string text, ReadFile(report));
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(report, ": not JSON"));
  }
  const auto it = json.find("input_shape");
  if (it == json.end()) return ImageShape{};  // No shape recorded: the native 1x28x28.
  if (!it->is_array() || it->size() != 3 || !(*it)[0].is_number_integer() ||
      !(*it)[1].is_number_integer() || !(*it)[2].is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(report, ": input_shape is not [C,H,W]"));
  }
  return ImageShape{(*it)[0].get<int>(), (*it)[1].get<int>(), (*it)[2].get<int>()};
}

absl::Status ExportPretrained(const ExportOptions& options) {
  if (options.weights.empty()) return absl::InvalidArgumentError("weights: required");
  if (options.out_dir.empty()) return absl::InvalidArgumentError("out: required");
  if (options.name.empty()) return absl::InvalidArgumentError("name: required");
  if (!std::filesystem::exists(options.weights)) {
    return absl::NotFoundError(absl::StrCat("weights: ", options.weights, " does not exist"));
  }
  ASSIGN_OR_RETURN(const ImageShape shape, PretrainedShape(options.weights));
  v1::Preprocessing resize = options.resize;
  for (float v : DefaultPreprocessing(shape).mean) resize.add_mean(v);
  for (float v : DefaultPreprocessing(shape).std) resize.add_std(v);
  ASSIGN_OR_RETURN(const engine::Preprocessing pre,
                   engine::PreprocessingFromProto(resize, shape.dims()));
  ASSIGN_OR_RETURN(std::shared_ptr<engine::FeatureNet> net,
                   engine::MakeFeatureNet(options.arch, shape.dims()));
  RETURN_IF_ERROR(engine::GuardTorch("loading " + options.weights, [&]() -> absl::Status {
    torch::load(net, options.weights);
    return absl::OkStatus();
  }));
  engine::MetaLearner meta(nullptr);
  if (!options.meta_learner.empty()) {
    meta = engine::MetaLearner();
    RETURN_IF_ERROR(engine::LoadMetaLearner(options.meta_learner, &meta));
  }
  v1::ModelConfig config = MakeModelConfig(options.name, options.arch, net->feature_dim(), pre);
  if (options.finetune_lr > 0) config.set_finetune_lr(static_cast<float>(options.finetune_lr));
  config.set_default_method(options.default_method);
  config.set_default_method_reason(options.default_method_reason);
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
