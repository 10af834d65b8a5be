#include "server/engine/model/backbone.h"

#include <filesystem>

#include <google/protobuf/text_format.h>
#include <torch/script.h>
#include <torch/serialize.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/engine/adapt/adaptation.h"
#include "server/engine/input/preprocessing.h"
#include "server/engine/input/input_decoder.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "server/engine/runtime/torch_util.h"

namespace adaptd::engine {
namespace fs = std::filesystem;
using adaptd::v1::ModelConfig;

namespace {

constexpr char kConfigFile[] = "model.pbtxt";

absl::StatusOr<ModelConfig> ReadConfig(const std::string& folder) {
  const std::string path = (fs::path(folder) / kConfigFile).string();
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  ModelConfig config;
  if (!google::protobuf::TextFormat::ParseFromString(text, &config)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a valid ModelConfig text proto"));
  }
  if (config.name().empty()) config.set_name(fs::path(folder).filename().string());
  return config;
}

absl::Status ValidateConfig(const ModelConfig& config) {
  if (config.input_shape_size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_shape: must be [C,H,W], got ",
                     ShapeString({config.input_shape().begin(), config.input_shape().end()})));
  }
  for (int64_t d : config.input_shape()) {
    if (d <= 0 || d > 4096) return absl::InvalidArgumentError("input_shape: dims must be in [1,4096]");
  }
  if (config.feature_dim() <= 0) return absl::InvalidArgumentError("feature_dim: must be positive");
  if (config.backbone_file().empty()) return absl::InvalidArgumentError("backbone_file: is empty");
  return PreprocessingFromProto(config.preprocessing(),
                                {config.input_shape().begin(), config.input_shape().end()})
      .status();
}

int64_t ModuleBytes(const torch::nn::Module& module, int64_t* parameters) {
  int64_t bytes = 0;
  *parameters = 0;
  for (const auto& p : module.parameters()) {
    bytes += p.nbytes();
    *parameters += p.numel();
  }
  for (const auto& b : module.buffers()) bytes += b.nbytes();
  return bytes;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Backbone>> Backbone::Make(const ModelConfig& config,
                                                         Forward forward, int64_t parameters,
                                                         int64_t memory_bytes, MetaLearner meta,
                                                         c10::Device device) {
  RETURN_IF_ERROR(ValidateConfig(config));
  std::shared_ptr<Backbone> backbone(new Backbone());
  backbone->config_ = config;
  backbone->device_ = device;
  backbone->forward_ = std::move(forward);
  backbone->meta_ = std::move(meta);
  BackboneInfo& info = backbone->info_;
  info.name = config.name();
  info.modality = config.modality().empty() ? "image" : config.modality();
  info.input_shape.assign(config.input_shape().begin(), config.input_shape().end());
  info.feature_dim = config.feature_dim();
  info.device = device.str();
  info.parameters = parameters;
  info.memory_bytes = memory_bytes;
  info.methods = {Method::kPrototype, Method::kFinetune};
  if (!backbone->meta_.is_empty()) {
    info.methods.push_back(Method::kMeta);
    backbone->meta_->to(device);
    backbone->meta_->eval();
  }
  info.default_method = backbone->meta_.is_empty() ? Method::kPrototype : Method::kMeta;
  ASSIGN_OR_RETURN(info.preprocessing,
                   PreprocessingFromProto(config.preprocessing(), info.input_shape));

  // A dry run checks the declared feature size and warms the allocator up.
  ASSIGN_OR_RETURN(at::Tensor probe,
                   backbone->Features(torch::zeros(
                       {1, info.input_shape[0], info.input_shape[1], info.input_shape[2]},
                       torch::TensorOptions().device(device))));
  if (probe.dim() != 2 || probe.size(1) != info.feature_dim) {
    return absl::FailedPreconditionError(
        absl::StrCat("feature_dim: model.pbtxt says ", info.feature_dim,
                     " but the backbone produces ", ShapeString(probe.sizes().vec())));
  }
  return backbone;
}

absl::StatusOr<std::shared_ptr<Backbone>> Backbone::FromNet(const ModelConfig& config,
                                                            std::shared_ptr<FeatureNet> net,
                                                            MetaLearner meta,
                                                            c10::Device device) {
  return GuardTorch("backbone " + config.name(), [&]() -> absl::StatusOr<std::shared_ptr<Backbone>> {
    net->to(device);
    net->eval();
    int64_t parameters = 0;
    const int64_t bytes = ModuleBytes(*net, &parameters);
    return Make(config, [net](const at::Tensor& x) { return net->forward(x); }, parameters,
                bytes, std::move(meta), device);
  });
}

absl::StatusOr<std::shared_ptr<Backbone>> Backbone::Load(const std::string& folder,
                                                         c10::Device device) {
  ASSIGN_OR_RETURN(ModelConfig config, ReadConfig(folder));
  RETURN_IF_ERROR(ValidateConfig(config));
  const fs::path dir(folder);
  MetaLearner meta(nullptr);
  if (!config.meta_learner_file().empty()) {
    meta = MetaLearner();
    RETURN_IF_ERROR(LoadMetaLearner((dir / config.meta_learner_file()).string(), &meta));
  }
  const std::string weights = (dir / config.backbone_file()).string();
  if (!fs::exists(weights)) {
    return absl::NotFoundError(absl::StrCat("backbone_file: ", weights, " does not exist"));
  }
  if (config.format() == "torchscript") {
    return GuardTorch("loading TorchScript " + weights,
                      [&]() -> absl::StatusOr<std::shared_ptr<Backbone>> {
                        auto module = std::make_shared<torch::jit::Module>(
                            torch::jit::load(weights, device));
                        module->eval();
                        int64_t parameters = 0, bytes = 0;
                        for (const auto& p : module->parameters()) {
                          parameters += p.numel();
                          bytes += p.nbytes();
                        }
                        for (const auto& b : module->buffers()) bytes += b.nbytes();
                        return Make(
                            config,
                            [module](const at::Tensor& x) {
                              return module->forward({x}).toTensor();
                            },
                            parameters, bytes, std::move(meta), device);
                      });
  }
  ASSIGN_OR_RETURN(std::shared_ptr<FeatureNet> net,
                   MakeFeatureNet(config.format(), {config.input_shape().begin(),
                                                    config.input_shape().end()}));
  RETURN_IF_ERROR(GuardTorch("loading weights " + weights, [&]() -> absl::Status {
    torch::load(net, weights);
    return absl::OkStatus();
  }));
  return FromNet(config, std::move(net), std::move(meta), device);
}

absl::StatusOr<at::Tensor> Backbone::Features(const at::Tensor& inputs) const {
  return GuardTorch("backbone " + info_.name, [&]() -> absl::StatusOr<at::Tensor> {
    c10::InferenceMode guard;
    // Float features whatever precision the forward ran in (autocast).
    return NormalizeFeatures(forward_(inputs).to(at::kFloat));
  });
}

absl::Status ExportModel(const std::string& folder, ModelConfig config, FeatureNet& net,
                         MetaLearner* meta) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) return absl::InternalError(absl::StrCat(folder, ": ", ec.message()));
  const fs::path dir(folder);
  config.set_backbone_file("backbone.pt");
  config.set_meta_learner_file(meta != nullptr && !meta->is_empty() ? "meta_learner.pt" : "");
  RETURN_IF_ERROR(GuardTorch("saving the backbone", [&]() -> absl::Status {
    torch::serialize::OutputArchive archive;
    net.save(archive);
    archive.save_to((dir / "backbone.pt").string());
    return absl::OkStatus();
  }));
  if (!config.meta_learner_file().empty()) {
    RETURN_IF_ERROR(SaveMetaLearner(*meta, (dir / "meta_learner.pt").string()));
  }
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  return WriteFileAtomically((dir / kConfigFile).string(), text);
}

absl::StatusOr<std::vector<std::shared_ptr<Backbone>>> LoadModelRepository(
    const std::string& repository, c10::Device device,
    const std::function<void(const std::string&, const absl::Status&)>& on_error) {
  std::error_code ec;
  if (!fs::is_directory(repository, ec)) {
    return absl::NotFoundError(
        absl::StrCat("model_repository: ", repository, " is not a directory"));
  }
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(repository, ec)) {
    if (entry.is_directory() && fs::exists(entry.path() / kConfigFile)) {
      folders.push_back(entry.path());
    }
  }
  std::sort(folders.begin(), folders.end());
  std::vector<std::shared_ptr<Backbone>> loaded;
  for (const auto& folder : folders) {
    auto backbone = Backbone::Load(folder.string(), device);
    if (!backbone.ok()) {
      if (on_error) on_error(folder.string(), backbone.status());
      continue;
    }
    loaded.push_back(*std::move(backbone));
  }
  return loaded;
}

}  // namespace adaptd::engine
