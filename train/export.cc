#include "train/export.h"

#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/serialize.h>

#include "absl/strings/str_cat.h"
#include "server/engine/model/backbone.h"
#include "server/engine/model/nets.h"
#include "server/engine/model/text_nets.h"
#include "server/engine/text/load_tokenizer.h"
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

v1::TextConfig TokenizerConfig(const std::string& path, bool lower_case) {
  const std::filesystem::path file(path);
  v1::TextConfig text;
  if (file.extension() == ".model") {
    text.set_tokenizer(engine::kSentencePiece);
    text.set_sentencepiece_file(file.filename().string());
  } else {
    text.set_tokenizer(engine::kWordPiece);
    text.set_vocab_file(file.filename().string());
    text.set_lower_case(lower_case);
  }
  return text;
}

v1::ModelConfig MakeTextModelConfig(const std::string& name, const TextEncoderOptions& encoder,
                                    int64_t vocab_size) {
  v1::ModelConfig config;
  config.set_name(name);
  config.set_modality("text");
  *config.mutable_text() = TokenizerConfig(encoder.tokenizer, encoder.lower_case);
  engine::TextTransformerOptions o;
  o.vocab_size = vocab_size;
  o.dim = encoder.dim;
  o.layers = encoder.layers;
  o.heads = encoder.heads;
  o.mlp_dim = encoder.mlp_dim;
  o.max_length = encoder.max_len;
  o.positions = encoder.positions;
  o.pooling = encoder.pooling;
  o.lexical_dim = encoder.lexical_dim;
  o.lexical_weight = encoder.lexical_weight;
  o.semantic_dim = encoder.semantic_dim;
  o.semantic_weight = encoder.semantic_weight;
  o.semantic_agreement = encoder.semantic_agreement;
  engine::TextTransformerOptionsToConfig(o, &config);
  config.set_backbone_file("backbone.pt");  // ExportTextModel sets it too.
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

namespace {

// report.json beside `weights`, or null when there is none.
absl::StatusOr<nlohmann::json> PretrainReportJson(const std::string& weights) {
  const std::string report =
      (std::filesystem::path(weights).parent_path() / "report.json").string();
  if (!std::filesystem::exists(report)) return nlohmann::json();
  ASSIGN_OR_RETURN(const std::string text, ReadFile(report));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(report, ": not a JSON object"));
  }
  return json;
}

// The text encoder a text pretraining's report.json describes, and the size
// of the vocabulary it was trained on.
absl::StatusOr<std::pair<TextEncoderOptions, int64_t>> PretrainedTextEncoder(
    const nlohmann::json& report, const std::string& weights) {
  const auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(
        (std::filesystem::path(weights).parent_path() / "report.json").string(),
        ": text_encoder.", what));
  };
  const auto it = report.find("text_encoder");
  if (it == report.end() || !it->is_object()) return bad("is missing");
  const nlohmann::json& e = *it;
  TextEncoderOptions o;
  int64_t vocab_size = 0;
  for (const auto& [key, field] : {std::pair<const char*, int*>{"dim", &o.dim},
                                   {"layers", &o.layers},
                                   {"heads", &o.heads},
                                   {"mlp_dim", &o.mlp_dim},
                                   {"max_len", &o.max_len}}) {
    if (!e.contains(key) || !e[key].is_number_integer()) {
      return bad(absl::StrCat(key, " is not an integer"));
    }
    *field = e[key].get<int>();
  }
  if (!e.contains("vocab_size") || !e["vocab_size"].is_number_integer()) {
    return bad("vocab_size is not an integer");
  }
  vocab_size = e["vocab_size"].get<int64_t>();
  if (!e.contains("tokenizer") || !e["tokenizer"].is_string()) {
    return bad("tokenizer is not a path");
  }
  o.tokenizer = e["tokenizer"].get<std::string>();
  if (!e.contains("pooling") || !e["pooling"].is_string()) return bad("pooling is not a string");
  o.pooling = e["pooling"].get<std::string>();
  o.lower_case = e.value("lower_case", true);
  // Absent from reports of encoders without a lexical or semantic branch,
  // or reading all their tokens.
  for (const auto& [key, field] : {std::pair<const char*, int*>{"lexical_dim", &o.lexical_dim},
                                   {"semantic_dim", &o.semantic_dim},
                                   {"positions", &o.positions}}) {
    if (e.contains(key) && !e[key].is_number_integer()) {
      return bad(absl::StrCat(key, " is not an integer"));
    }
    *field = e.value(key, 0);
  }
  o.lexical_weight = e.value("lexical_weight", 0.5);
  o.semantic_weight = e.value("semantic_weight", 0.5);
  o.semantic_agreement = e.value("semantic_agreement", 0.0);
  return std::make_pair(o, vocab_size);
}

// What every exported folder gets besides the backbone: the meta-learner
// (empty holder without one), FINETUNE's rate and the default method.
absl::Status AddServingOptions(const ExportOptions& options, v1::ModelConfig* config,
                               engine::MetaLearner* meta) {
  if (!options.meta_learner.empty()) {
    *meta = engine::MetaLearner();
    RETURN_IF_ERROR(engine::LoadMetaLearner(options.meta_learner, meta));
  }
  if (options.finetune_lr > 0) config->set_finetune_lr(static_cast<float>(options.finetune_lr));
  config->set_default_method(options.default_method);
  config->set_default_method_reason(options.default_method_reason);
  return absl::OkStatus();
}

// Loads the folder back the way adaptd does, so a folder that would not
// serve is caught here rather than at server start.
absl::Status CheckLoads(const std::string& out_dir) {
  auto loaded = engine::Backbone::Load(out_dir, c10::Device(c10::kCPU));
  if (!loaded.ok()) {
    return absl::InternalError(absl::StrCat("the exported folder ", out_dir,
                                            " does not load: ", loaded.status().message()));
  }
  return absl::OkStatus();
}

absl::Status ExportText(const ExportOptions& options, const nlohmann::json& report) {
  ASSIGN_OR_RETURN(auto pretrained, PretrainedTextEncoder(report, options.weights));
  TextEncoderOptions& encoder = pretrained.first;
  if (!options.tokenizer.empty()) encoder.tokenizer = options.tokenizer;
  if (!std::filesystem::exists(encoder.tokenizer)) {
    return absl::NotFoundError(absl::StrCat("tokenizer: ", encoder.tokenizer,
                                            " does not exist; pass --tokenizer"));
  }
  v1::ModelConfig config = MakeTextModelConfig(options.name, encoder, pretrained.second);
  ASSIGN_OR_RETURN(std::shared_ptr<engine::TextTransformer> net,
                   engine::MakeTextTransformer(engine::TextTransformerOptionsFromConfig(config)));
  RETURN_IF_ERROR(engine::GuardTorch("loading " + options.weights, [&]() -> absl::Status {
    torch::load(net, options.weights);
    return absl::OkStatus();
  }));
  engine::MetaLearner meta(nullptr);
  RETURN_IF_ERROR(AddServingOptions(options, &config, &meta));
  RETURN_IF_ERROR(engine::ExportTextModel(options.out_dir, config, *net,
                                          meta.is_empty() ? nullptr : &meta, encoder.tokenizer));
  return CheckLoads(options.out_dir);
}

}  // namespace

absl::Status ExportPretrained(const ExportOptions& options) {
  if (options.weights.empty()) return absl::InvalidArgumentError("weights: required");
  if (options.out_dir.empty()) return absl::InvalidArgumentError("out: required");
  if (options.name.empty()) return absl::InvalidArgumentError("name: required");
  if (!std::filesystem::exists(options.weights)) {
    return absl::NotFoundError(absl::StrCat("weights: ", options.weights, " does not exist"));
  }
  ASSIGN_OR_RETURN(const nlohmann::json report, PretrainReportJson(options.weights));
  if (report.is_object() && report.value("modality", "") == "text") {
    return ExportText(options, report);
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
  v1::ModelConfig config = MakeModelConfig(options.name, options.arch, net->feature_dim(), pre);
  engine::MetaLearner meta(nullptr);
  RETURN_IF_ERROR(AddServingOptions(options, &config, &meta));
  RETURN_IF_ERROR(
      engine::ExportModel(options.out_dir, config, *net, meta.is_empty() ? nullptr : &meta));
  return CheckLoads(options.out_dir);
}

}  // namespace adaptd::train
