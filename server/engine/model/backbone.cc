#include "server/engine/model/backbone.h"

#include <algorithm>
#include <filesystem>

#include <google/protobuf/text_format.h>
#include <torch/script.h>
#include <torch/serialize.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/engine/adapt/adaptation.h"
#include "server/engine/input/preprocessing.h"
#include "server/engine/input/input_decoder.h"
#include "server/engine/model/fingerprint.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "server/engine/runtime/torch_util.h"
#include "server/engine/model/text_nets.h"
#include "server/engine/text/load_tokenizer.h"

namespace adaptd::engine {
namespace fs = std::filesystem;
using adaptd::v1::ModelConfig;

namespace {

constexpr char kConfigFile[] = "model.pbtxt";
// model.pbtxt's format of the native text encoder (text_nets.h).
constexpr char kTextTransformer[] = "text-transformer";
// The longest max_seq_length a text model.pbtxt may give.
constexpr int kMaxSeqLength = 8192;
// Tokens per row of a text backbone's load-time probe (or max_seq_length).
constexpr int64_t kProbeTokens = 8;

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

absl::Status ValidateImageConfig(const ModelConfig& config) {
  if (config.input_shape_size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_shape: must be [C,H,W], got ",
                     ShapeString({config.input_shape().begin(), config.input_shape().end()})));
  }
  for (int64_t d : config.input_shape()) {
    if (d <= 0 || d > 4096) return absl::InvalidArgumentError("input_shape: dims must be in [1,4096]");
  }
  return PreprocessingFromProto(config.preprocessing(),
                                {config.input_shape().begin(), config.input_shape().end()})
      .status();
}

absl::Status ValidateTextConfig(const ModelConfig& config) {
  if (config.format() != "torchscript" && config.format() != kTextTransformer) {
    return absl::InvalidArgumentError(
        absl::StrCat("format: a text backbone must be \"torchscript\" or \"", kTextTransformer,
                     "\", got \"", config.format(), "\""));
  }
  const adaptd::v1::TextConfig& text = config.text();
  RETURN_IF_ERROR(ValidateTokenizerConfig(text));
  if (text.max_seq_length() < 2 || text.max_seq_length() > kMaxSeqLength) {
    return absl::InvalidArgumentError(absl::StrCat("text.max_seq_length: must be in [2, ",
                                                   kMaxSeqLength, "], got ",
                                                   text.max_seq_length()));
  }
  if (!text.pooling().empty() && text.pooling() != "cls" && text.pooling() != "mean") {
    return absl::InvalidArgumentError(absl::StrCat(
        "text.pooling: must be \"cls\" or \"mean\", got \"", text.pooling(), "\""));
  }
  return absl::OkStatus();
}

// format "text-transformer": text.transformer describes a network whose
// features are feature_dim wide.
absl::Status ValidateTextTransformerConfig(const ModelConfig& config) {
  if (config.format() != kTextTransformer) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateTextTransformerOptions(TextTransformerOptionsFromConfig(config),
                                                 "text.transformer."));
  const int64_t dim = TextTransformerFeatureDim(TextTransformerOptionsFromConfig(config));
  if (config.feature_dim() != dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "feature_dim: must equal text.transformer.dim + lexical_dim + semantic_dim (", dim,
        ") for a text-transformer, got ", config.feature_dim()));
  }
  return absl::OkStatus();
}

absl::Status ValidateConfig(const ModelConfig& config) {
  const std::string& modality = config.modality();
  if (modality == "text") {
    RETURN_IF_ERROR(ValidateTextConfig(config));
    RETURN_IF_ERROR(ValidateTextTransformerConfig(config));
  } else if (modality.empty() || modality == "image") {
    RETURN_IF_ERROR(ValidateImageConfig(config));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("modality: must be \"image\" or \"text\", got \"", modality, "\""));
  }
  if (config.feature_dim() <= 0) return absl::InvalidArgumentError("feature_dim: must be positive");
  if (config.backbone_file().empty()) return absl::InvalidArgumentError("backbone_file: is empty");
  return absl::OkStatus();
}

// A text encoder's output for one batch: (input_ids, attention_mask[,
// token_type_ids of zeros]) -> its tensor, or the first element of the tuple
// it returns (as Hugging Face exports do).
at::Tensor RunEncoder(torch::jit::Module& module, const BackboneInput& in, bool token_types) {
  std::vector<torch::jit::IValue> args{in.values, in.attention_mask};
  if (token_types) args.emplace_back(torch::zeros_like(in.values));
  torch::jit::IValue out = module.forward(std::move(args));
  if (out.isTuple()) out = out.toTuple()->elements().at(0);
  return out.toTensor();
}

// [B,T,D] token features -> [B,D]: token 0 ("cls") or the mean over the
// attention mask ("mean"). [B,D] stays as it is ("none").
at::Tensor PoolTokens(const at::Tensor& out, const at::Tensor& mask, const std::string& pooling) {
  if (out.dim() == 2) return out;
  TORCH_CHECK(out.dim() == 3, "the text encoder returned ", ShapeString(out.sizes().vec()),
              "; expected [B,D] or [B,T,D]");
  if (pooling == "mean") {
    const at::Tensor m = mask.unsqueeze(2).to(out.scalar_type());
    return (out * m).sum(1) / m.sum(1).clamp_min(1);
  }
  return out.select(1, 0);
}

// Two rows of token ids that every encoder of `tokenizer` takes: one of
// [CLS] [UNK]... [SEP] filling all its tokens, and one of [CLS] [SEP] (or
// [UNK] where the tokenizer has no such special) and padding, so that the
// probe exercises the attention mask.
BackboneInput TextProbe(const Tokenizer& tokenizer, int max_seq_length, c10::Device device) {
  const int64_t t = std::min<int64_t>(kProbeTokens, max_seq_length);
  const SpecialTokenIds& special = tokenizer.special_ids();
  const int64_t cls = special.cls >= 0 ? special.cls : special.unk;
  const int64_t sep = special.sep >= 0 ? special.sep : special.unk;
  at::Tensor ids = torch::full({2, t}, static_cast<int64_t>(tokenizer.pad_id()), torch::kLong);
  at::Tensor mask = torch::zeros({2, t}, torch::kLong);
  auto id = ids.accessor<int64_t, 2>();
  auto m = mask.accessor<int64_t, 2>();
  for (int64_t j = 0; j < t; ++j) {
    id[0][j] = j == 0 ? cls : (j == t - 1 ? sep : special.unk);
    m[0][j] = 1;
  }
  id[1][0] = cls;
  id[1][1] = sep;
  m[1][0] = m[1][1] = 1;
  return {ids.to(device), mask.to(device)};
}

// What the probe's output must be: [B,D] or [B,T,D], D == feature_dim.
absl::Status CheckEncoderOutput(const at::Tensor& out, const BackboneInput& probe,
                                int64_t feature_dim) {
  const std::vector<int64_t> shape = out.sizes().vec();
  const int64_t b = probe.rows(), t = probe.values.size(1);
  const std::string input = absl::StrCat(" for input_ids ", ShapeString({b, t}));
  const bool pooled = out.dim() == 2 && shape[0] == b;
  const bool tokens = out.dim() == 3 && shape[0] == b && shape[1] == t;
  if (!pooled && !tokens) {
    return absl::FailedPreconditionError(
        absl::StrCat("backbone_file: the text encoder returned ", ShapeString(shape), input,
                     "; expected [", b, ",D] or [", b, ",", t, ",D]"));
  }
  if (shape.back() != feature_dim) {
    return absl::FailedPreconditionError(
        absl::StrCat("feature_dim: model.pbtxt says ", feature_dim,
                     " but the text encoder returned ", ShapeString(shape), input));
  }
  return absl::OkStatus();
}

// The bytes of a module's parameters and buffers; `parameters` gets the
// number of parameter values. For torch::nn::Module and torch::jit::Module.
template <typename Module>
int64_t ModuleBytes(const Module& module, int64_t* parameters) {
  int64_t bytes = 0;
  *parameters = 0;
  for (const auto& p : module.parameters()) {
    bytes += p.nbytes();
    *parameters += p.numel();
  }
  for (const auto& b : module.buffers()) bytes += b.nbytes();
  return bytes;
}

// model.pbtxt's default_method; empty: META where there is a meta-learner,
// else PROTOTYPE.
absl::StatusOr<Method> DefaultMethod(const ModelConfig& config, bool has_meta) {
  const std::string& name = config.default_method();
  if (name.empty()) return has_meta ? Method::kMeta : Method::kPrototype;
  if (name == "prototype") return Method::kPrototype;
  if (name == "finetune") return Method::kFinetune;
  if (name == "meta" && has_meta) return Method::kMeta;
  if (name == "meta") {
    return absl::InvalidArgumentError("default_method: \"meta\" needs a meta_learner_file");
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "default_method: \"", name, "\" is not prototype, finetune or meta"));
}

// A format "text-transformer" folder: its tokenizer, the encoder that
// text.transformer describes and its weights (a LibTorch archive).
absl::StatusOr<std::shared_ptr<Backbone>> LoadTextTransformer(const ModelConfig& config,
                                                              const std::string& folder,
                                                              MetaLearner meta,
                                                              c10::Device device) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Tokenizer> tokenizer,
                   LoadTokenizer(config.text(), folder));
  const TextTransformerOptions options = TextTransformerOptionsFromConfig(config);
  if (options.vocab_size < tokenizer->vocab_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text.transformer.vocab_size: ", options.vocab_size, " is smaller than the ",
        tokenizer->kind(), " vocabulary (", tokenizer->vocab_size(), " tokens)"));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<TextTransformer> net, MakeTextTransformer(options));
  const std::string weights = (fs::path(folder) / config.backbone_file()).string();
  // torch::load replaces each tensor whatever its shape, so a shape that
  // changed means the weights are another network's.
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (const auto& p : net->named_parameters()) {
    shapes.emplace_back(p.key(), p.value().sizes().vec());
  }
  const absl::Status loaded = GuardTorch("loading weights " + weights, [&]() -> absl::Status {
    torch::load(net, weights);
    size_t i = 0;
    for (const auto& p : net->named_parameters()) {
      if (i >= shapes.size() || p.value().sizes().vec() != shapes[i].second) {
        return absl::FailedPreconditionError(absl::StrCat(
            p.key(), " is ", ShapeString(p.value().sizes().vec()), ", expected ",
            i < shapes.size() ? ShapeString(shapes[i].second) : "no such tensor"));
      }
      ++i;
    }
    return absl::OkStatus();
  });
  if (!loaded.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("backbone_file: ", weights, " does not hold the text-transformer that ",
                     "text.transformer describes: ", loaded.message()));
  }
  return Backbone::FromTextNet(config, std::move(net), std::move(tokenizer), std::move(meta),
                               device);
}

}  // namespace

absl::StatusOr<std::shared_ptr<Backbone>> Backbone::Make(
    const ModelConfig& config, Forward forward, int64_t parameters, int64_t memory_bytes,
    MetaLearner meta, c10::Device device, std::shared_ptr<const Tokenizer> tokenizer) {
  RETURN_IF_ERROR(ValidateConfig(config));
  std::shared_ptr<Backbone> backbone(new Backbone());
  backbone->config_ = config;
  backbone->device_ = device;
  backbone->forward_ = std::move(forward);
  backbone->meta_ = std::move(meta);
  backbone->tokenizer_ = std::move(tokenizer);
  BackboneInfo& info = backbone->info_;
  info.name = config.name();
  info.modality = config.modality().empty() ? "image" : config.modality();
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
  ASSIGN_OR_RETURN(info.default_method, DefaultMethod(config, !backbone->meta_.is_empty()));
  info.default_method_reason = config.default_method_reason();
  if (backbone->is_text()) {
    const adaptd::v1::TextConfig& text = config.text();
    info.text = {std::string(backbone->tokenizer_->kind()), backbone->tokenizer_->vocab_size(),
                 text.max_seq_length(), text.pooling().empty() ? "cls" : text.pooling(),
                 text.lower_case()};
  } else {
    info.input_shape.assign(config.input_shape().begin(), config.input_shape().end());
    ASSIGN_OR_RETURN(info.preprocessing,
                     PreprocessingFromProto(config.preprocessing(), info.input_shape));
  }

  // A dry run checks the declared feature size and warms the allocator up.
  ASSIGN_OR_RETURN(at::Tensor probe, backbone->Features(backbone->ProbeInput()));
  if (probe.dim() != 2 || probe.size(1) != info.feature_dim) {
    return absl::FailedPreconditionError(
        absl::StrCat("feature_dim: model.pbtxt says ", info.feature_dim,
                     " but the backbone produces ", ShapeString(probe.sizes().vec())));
  }
  return backbone;
}

BackboneInput Backbone::ProbeInput() const {
  if (is_text()) return TextProbe(*tokenizer_, info_.text.max_seq_length, device_);
  const auto& s = info_.input_shape;
  return {torch::zeros({1, s[0], s[1], s[2]}, torch::TensorOptions().device(device_)), {}};
}

int64_t Backbone::pad_id() const {
  return tokenizer_ ? tokenizer_->pad_id() : 0;
}

absl::StatusOr<std::shared_ptr<Backbone>> Backbone::LoadText(const ModelConfig& config,
                                                             const std::string& folder,
                                                             MetaLearner meta,
                                                             c10::Device device) {
  const fs::path dir(folder);
  ASSIGN_OR_RETURN(std::shared_ptr<const Tokenizer> tokenizer,
                   LoadTokenizer(config.text(), folder));
  const std::string weights = (dir / config.backbone_file()).string();
  const bool token_types = config.text().token_type_ids();
  std::shared_ptr<torch::jit::Module> module;
  int64_t parameters = 0, bytes = 0;
  RETURN_IF_ERROR(GuardTorch("loading TorchScript " + weights, [&]() -> absl::Status {
    module = std::make_shared<torch::jit::Module>(torch::jit::load(weights, device));
    module->eval();
    bytes = ModuleBytes(*module, &parameters);
    return absl::OkStatus();
  }));
  const BackboneInput probe =
      TextProbe(*tokenizer, config.text().max_seq_length(), device);
  absl::StatusOr<at::Tensor> out = GuardTorch("probe", [&]() -> absl::StatusOr<at::Tensor> {
    c10::InferenceMode guard;
    return RunEncoder(*module, probe, token_types);
  });
  if (!out.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backbone_file: the text encoder failed on input_ids and attention_mask ",
        ShapeString(probe.values.sizes().vec()), token_types ? " and token_type_ids" : "",
        ": ", out.status().message()));
  }
  RETURN_IF_ERROR(CheckEncoderOutput(*out, probe, config.feature_dim()));
  const std::string pooling = out->dim() == 2 ? "none" : config.text().pooling();
  Forward forward = [module, token_types, pooling](const BackboneInput& in) {
    return PoolTokens(RunEncoder(*module, in, token_types).to(at::kFloat), in.attention_mask,
                      pooling);
  };
  ASSIGN_OR_RETURN(std::shared_ptr<Backbone> backbone,
                   Make(config, std::move(forward), parameters, bytes, std::move(meta), device,
                        std::move(tokenizer)));
  if (pooling == "none") backbone->info_.text.pooling = "none";
  return backbone;
}

absl::StatusOr<std::shared_ptr<Backbone>> Backbone::FromNet(const ModelConfig& config,
                                                            std::shared_ptr<FeatureNet> net,
                                                            MetaLearner meta,
                                                            c10::Device device) {
  using Result = absl::StatusOr<std::shared_ptr<Backbone>>;
  return GuardTorch("backbone " + config.name(), [&]() -> Result {
    net->to(device);
    net->eval();
    int64_t parameters = 0;
    const int64_t bytes = ModuleBytes(*net, &parameters);
    return Make(config, [net](const BackboneInput& x) { return net->forward(x.values); },
                parameters, bytes, std::move(meta), device);
  });
}

absl::StatusOr<std::shared_ptr<Backbone>> Backbone::FromTextNet(
    const ModelConfig& config, std::shared_ptr<TextTransformer> net,
    std::shared_ptr<const Tokenizer> tokenizer, MetaLearner meta, c10::Device device) {
  using Result = absl::StatusOr<std::shared_ptr<Backbone>>;
  return GuardTorch("backbone " + config.name(), [&]() -> Result {
    net->to(device);
    net->eval();
    int64_t parameters = 0;
    const int64_t bytes = ModuleBytes(*net, &parameters);
    Forward forward = [net](const BackboneInput& x) {
      return net->forward(x.values, x.attention_mask);
    };
    return Make(config, std::move(forward), parameters, bytes, std::move(meta), device,
                std::move(tokenizer));
  });
}

absl::StatusOr<std::shared_ptr<Backbone>> Backbone::LoadFiles(const std::string& folder,
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
  if (config.modality() == "text" && config.format() == kTextTransformer) {
    return LoadTextTransformer(config, folder, std::move(meta), device);
  }
  if (config.modality() == "text") return LoadText(config, folder, std::move(meta), device);
  if (config.format() == "torchscript") {
    return GuardTorch("loading TorchScript " + weights,
                      [&]() -> absl::StatusOr<std::shared_ptr<Backbone>> {
                        auto module = std::make_shared<torch::jit::Module>(
                            torch::jit::load(weights, device));
                        module->eval();
                        int64_t parameters = 0;
                        const int64_t bytes = ModuleBytes(*module, &parameters);
                        return Make(
                            config,
                            [module](const BackboneInput& x) {
                              return module->forward({x.values}).toTensor();
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
  return Features(BackboneInput{inputs, at::Tensor()});
}

absl::StatusOr<at::Tensor> Backbone::Features(const BackboneInput& inputs) const {
  return GuardTorch("backbone " + info_.name, [&]() -> absl::StatusOr<at::Tensor> {
    c10::InferenceMode guard;
    // Float features whatever precision the forward ran in (autocast).
    return NormalizeFeatures(forward_(inputs).to(at::kFloat));
  });
}

absl::Status ExportModel(const std::string& folder, ModelConfig config, torch::nn::Module& net,
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

absl::Status ExportTextModel(const std::string& folder, ModelConfig config, TextTransformer& net,
                             MetaLearner* meta, const std::string& tokenizer_file) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) return absl::InternalError(absl::StrCat(folder, ": ", ec.message()));
  const std::string name = fs::path(tokenizer_file).filename().string();
  const fs::path copy = fs::path(folder) / name;
  if (!fs::exists(copy) || !fs::equivalent(tokenizer_file, copy, ec)) {
    fs::copy_file(tokenizer_file, copy, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("copying the tokenizer ", tokenizer_file, " to ",
                                              folder, ": ", ec.message()));
    }
  }
  adaptd::v1::TextConfig* text = config.mutable_text();
  if (text->tokenizer() == kSentencePiece) {
    text->set_sentencepiece_file(name);
  } else {
    text->set_vocab_file(name);
  }
  config.set_modality("text");
  TextTransformerOptionsToConfig(net.options(), &config);
  return ExportModel(folder, std::move(config), net, meta);
}

absl::StatusOr<std::shared_ptr<Backbone>> Backbone::Load(const std::string& folder,
                                                         c10::Device device) {
  ASSIGN_OR_RETURN(std::shared_ptr<Backbone> backbone, LoadFiles(folder, device));
  // Hashed after loading, so a config or file error is reported by the
  // loader, naming its field. Files replaced while this runs may make the
  // fingerprint disagree with what was loaded: replace them by rename.
  ASSIGN_OR_RETURN(backbone->info_.fingerprint, ModelFingerprint(backbone->config_, folder));
  backbone->info_.version = backbone->config_.version();
  return backbone;
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
