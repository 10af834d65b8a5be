#include "train/import.h"

#include <torch/script.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/text_format.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "server/engine/adapt/meta_learner.h"
#include "server/engine/base/types.h"
#include "server/engine/input/preprocessing.h"
#include "server/engine/model/backbone.h"
#include "server/engine/text/load_tokenizer.h"
#include "server/engine/text/sentencepiece_tokenizer.h"
#include "server/engine/text/wordpiece_tokenizer.h"

namespace adaptd::train {
namespace fs = std::filesystem;
namespace {

// The first line of LibTorch's message: the rest is a C++ backtrace.
std::string FirstLine(const std::string& message) {
  return std::string(*absl::StrSplit(message, '\n').begin());
}

// Runs `fn`; the first line of what LibTorch threw, or "" when nothing.
template <typename F>
std::string TorchError(F&& fn) {
  try {
    fn();
    return "";
  } catch (const c10::Error& e) {
    return FirstLine(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return FirstLine(e.what());
  }
}

// What every import needs: a name, an output folder and a TorchScript file.
absl::Status CheckCommonOptions(const ImportOptions& o) {
  if (o.name.empty()) return absl::InvalidArgumentError("name: required");
  if (o.out_dir.empty()) return absl::InvalidArgumentError("out: required");
  if (o.torchscript.empty()) return absl::InvalidArgumentError("torchscript: required");
  std::error_code ec;
  if (!fs::is_regular_file(o.torchscript, ec)) {
    return absl::NotFoundError(absl::StrCat("torchscript: ", o.torchscript, " is not a file"));
  }
  return absl::OkStatus();
}

absl::Status CheckOptions(const ImportOptions& o) {
  RETURN_IF_ERROR(CheckCommonOptions(o));
  if (o.input_shape.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_shape: must be C,H,W, got ", engine::ShapeString(o.input_shape)));
  }
  if (o.input_shape[0] != 1 && o.input_shape[0] != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input_shape: images have 1 (grey) or 3 (RGB) channels, not ", o.input_shape[0]));
  }
  for (int64_t d : o.input_shape) {
    if (d < 1 || d > 4096)
      return absl::InvalidArgumentError("input_shape: sizes must be in [1, 4096]");
  }
  if (o.finetune_lr < 0) return absl::InvalidArgumentError("finetune_lr: must not be negative");
  return engine::PreprocessingFromProto(o.preprocessing, o.input_shape).status();
}

// `path` on the CPU; INVALID_ARGUMENT naming --torchscript if it is not a
// TorchScript module.
absl::StatusOr<torch::jit::Module> LoadTorchScript(const std::string& path) {
  torch::jit::Module module;
  const std::string load_error = TorchError([&] { module = torch::jit::load(path, torch::kCPU); });
  if (!load_error.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("torchscript: ", path, " is not a TorchScript module (", load_error, ")"));
  }
  return module;
}

// Loads the module and runs a probe batch; the feature size it gives.
absl::StatusOr<ImportReport> Probe(const ImportOptions& o) {
  ASSIGN_OR_RETURN(torch::jit::Module module, LoadTorchScript(o.torchscript));
  const std::vector<int64_t> batch = {2, o.input_shape[0], o.input_shape[1], o.input_shape[2]};
  const std::string shape = engine::ShapeString(batch);
  ImportReport report;
  c10::IValue out;
  const std::string run_error = TorchError([&] {
    module.eval();
    torch::NoGradGuard no_grad;
    out = module.forward({torch::zeros(batch)});
    for (const auto& p : module.parameters()) report.parameters += p.numel();
  });
  if (!run_error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("input_shape: the module fails on a ", shape,
                                                   " batch of the declared shape (", run_error,
                                                   ")"));
  }
  if (!out.isTensor()) {
    return absl::InvalidArgumentError(absl::StrCat("torchscript: forward returns ", out.tagKind(),
                                                   "; adaptd needs one [B,D] tensor"));
  }
  const at::Tensor features = out.toTensor();
  if (features.dim() != 2 || features.size(0) != 2 || !features.is_floating_point()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "torchscript: forward on ", shape, " returns ", engine::ShapeString(features.sizes().vec()),
        " ", c10::toString(features.scalar_type()),
        "; adaptd needs [B,D] floating-point features (pool or flatten them in the module)"));
  }
  report.feature_dim = features.size(1);
  return report;
}

v1::ModelConfig Config(const ImportOptions& o, int64_t feature_dim, bool with_meta) {
  v1::ModelConfig config;
  config.set_name(o.name);
  config.set_modality("image");
  for (int64_t d : o.input_shape) config.add_input_shape(d);
  // Validated in CheckOptions; written out with every default spelt out.
  engine::PreprocessingToProto(*engine::PreprocessingFromProto(o.preprocessing, o.input_shape),
                               config.mutable_preprocessing());
  config.set_feature_dim(feature_dim);
  config.set_format("torchscript");
  config.set_backbone_file("backbone.pt");
  if (with_meta) config.set_meta_learner_file("meta_learner.pt");
  if (o.finetune_lr > 0) config.set_finetune_lr(static_cast<float>(o.finetune_lr));
  return config;
}

absl::Status CopyInto(const std::string& from, const fs::path& to) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(from));
  return WriteFileAtomically(to.string(), bytes);
}

// The longest text model.pbtxt allows (the engine's limit).
constexpr int kMaxSeqLength = 8192;
// Tokens per row of the text probe (or max_seq_length when shorter).
constexpr int64_t kTextProbeTokens = 8;

absl::Status CheckTextOptions(const ImportOptions& o) {
  RETURN_IF_ERROR(CheckCommonOptions(o));
  std::error_code ec;
  if (!fs::is_regular_file(o.text.tokenizer, ec)) {
    return absl::NotFoundError(absl::StrCat("tokenizer: ", o.text.tokenizer, " is not a file"));
  }
  if (!o.input_shape.empty()) {
    return absl::InvalidArgumentError(
        "input_shape: a text encoder takes token ids; leave input_shape out with --tokenizer");
  }
  const TextImportOptions& t = o.text;
  if (t.max_seq_length < 2 || t.max_seq_length > kMaxSeqLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_len: must be in [2, ", kMaxSeqLength, "], got ", t.max_seq_length));
  }
  if (t.pooling != "cls" && t.pooling != "mean") {
    return absl::InvalidArgumentError(
        absl::StrCat("pooling: must be cls or mean, got \"", t.pooling, "\""));
  }
  if (o.finetune_lr < 0) return absl::InvalidArgumentError("finetune_lr: must not be negative");
  return absl::OkStatus();
}

// The tokenizer in text.tokenizer: a SentencePiece model if it loads as one,
// else a WordPiece vocab.txt.
absl::StatusOr<std::shared_ptr<const engine::Tokenizer>> ImportTokenizer(
    const TextImportOptions& t) {
  auto sentencepiece = engine::SentencePieceTokenizer::Create(t.tokenizer);
  if (sentencepiece.ok()) return std::shared_ptr<const engine::Tokenizer>(*std::move(sentencepiece));
  if (absl::IsUnavailable(sentencepiece.status())) return sentencepiece.status();
  engine::WordPieceTokenizer::Options options;
  options.vocab_path = t.tokenizer;
  options.lower_case = t.lower_case;
  auto wordpiece = engine::WordPieceTokenizer::Create(options);
  if (wordpiece.ok()) return std::shared_ptr<const engine::Tokenizer>(*std::move(wordpiece));
  return absl::InvalidArgumentError(absl::StrCat(
      "tokenizer: ", t.tokenizer, " is neither a SentencePiece model nor a WordPiece vocab.txt (",
      wordpiece.status().message(), ")"));
}

// input_ids and attention_mask [2,T]: [CLS] [UNK]... [SEP] filling a row,
// and [CLS] [SEP] then padding (unk where the tokenizer has no cls or sep).
std::vector<c10::IValue> TextProbeInputs(const engine::Tokenizer& tokenizer, int max_seq_length,
                                         bool token_type_ids) {
  const int64_t t = std::min<int64_t>(kTextProbeTokens, max_seq_length);
  const engine::SpecialTokenIds& special = tokenizer.special_ids();
  const int64_t cls = special.cls >= 0 ? special.cls : special.unk;
  const int64_t sep = special.sep >= 0 ? special.sep : special.unk;
  at::Tensor ids = torch::full({2, t}, static_cast<int64_t>(special.unk), torch::kLong);
  at::Tensor mask = torch::ones({2, t}, torch::kLong);
  ids[0][0] = cls;
  ids[0][t - 1] = sep;
  ids[1][0] = cls;
  ids[1][1] = sep;
  ids[1].narrow(0, 2, t - 2).fill_(tokenizer.pad_id());
  mask[1].narrow(0, 2, t - 2).fill_(0);
  std::vector<c10::IValue> inputs = {ids, mask};
  if (token_type_ids) inputs.emplace_back(torch::zeros_like(ids));
  return inputs;
}

// Loads the encoder and runs it on TextProbeInputs; its feature size and
// whether it pools itself ([B,D]) or returns token features ([B,T,D]).
absl::StatusOr<ImportReport> ProbeText(const ImportOptions& o, const engine::Tokenizer& tokenizer) {
  ASSIGN_OR_RETURN(torch::jit::Module module, LoadTorchScript(o.torchscript));
  std::vector<c10::IValue> inputs =
      TextProbeInputs(tokenizer, o.text.max_seq_length, o.text.token_type_ids);
  const std::string shape = engine::ShapeString(inputs[0].toTensor().sizes().vec());
  ImportReport report;
  c10::IValue out;
  const std::string run_error = TorchError([&] {
    module.eval();
    torch::NoGradGuard no_grad;
    out = module.forward(inputs);
    if (out.isTuple()) out = out.toTuple()->elements().at(0);
    for (const auto& p : module.parameters()) report.parameters += p.numel();
  });
  const std::string given = o.text.token_type_ids ? "input_ids, attention_mask and token_type_ids"
                                                  : "input_ids and attention_mask";
  if (!run_error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "torchscript: the encoder fails on ", given, " ", shape, " (", run_error, ")",
        o.text.token_type_ids ? "" : "; pass --token_type_ids if it takes a third input"));
  }
  const bool tensor = out.isTensor();
  const at::Tensor features = tensor ? out.toTensor() : at::Tensor();
  const bool pooled = tensor && features.dim() == 2 && features.size(0) == 2;
  const bool tokens = tensor && features.dim() == 3 && features.size(0) == 2 &&
                      features.size(1) == inputs[0].toTensor().size(1);
  if ((!pooled && !tokens) || !features.is_floating_point()) {
    const std::string got = tensor ? absl::StrCat(engine::ShapeString(features.sizes().vec()), " ",
                                                  c10::toString(features.scalar_type()))
                                   : std::string(out.tagKind());
    return absl::InvalidArgumentError(
        absl::StrCat("torchscript: the encoder returns ", got, " for ", given, " ", shape,
                     "; adaptd needs [B,D] or [B,T,D] floating-point features"));
  }
  report.feature_dim = features.size(-1);
  report.pooling = pooled ? "none" : o.text.pooling;
  return report;
}

v1::ModelConfig TextModelConfig(const ImportOptions& o, const std::string& kind,
                                int64_t feature_dim, bool with_meta) {
  v1::ModelConfig config;
  config.set_name(o.name);
  config.set_modality("text");
  config.set_feature_dim(feature_dim);
  config.set_format("torchscript");
  config.set_backbone_file("backbone.pt");
  if (with_meta) config.set_meta_learner_file("meta_learner.pt");
  if (o.finetune_lr > 0) config.set_finetune_lr(static_cast<float>(o.finetune_lr));
  v1::TextConfig* text = config.mutable_text();
  text->set_tokenizer(kind);
  if (kind == engine::kSentencePiece) {
    text->set_sentencepiece_file("spm.model");
  } else {
    text->set_vocab_file("vocab.txt");
    text->set_lower_case(o.text.lower_case);
  }
  text->set_max_seq_length(o.text.max_seq_length);
  text->set_pooling(o.text.pooling);
  text->set_token_type_ids(o.text.token_type_ids);
  return config;
}

// Writes out_dir's files, model.pbtxt last (a folder without it is not a
// model to adaptd), and loads the folder back as adaptd does.
absl::Status WriteModelFolder(const ImportOptions& o, const v1::ModelConfig& config,
                              const std::string& tokenizer_file) {
  const fs::path dir(o.out_dir);
  RETURN_IF_ERROR(CopyInto(o.torchscript, dir / config.backbone_file()));
  if (!tokenizer_file.empty()) RETURN_IF_ERROR(CopyInto(o.text.tokenizer, dir / tokenizer_file));
  if (!o.meta_learner.empty()) RETURN_IF_ERROR(CopyInto(o.meta_learner, dir / "meta_learner.pt"));
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  RETURN_IF_ERROR(WriteFileAtomically((dir / "model.pbtxt").string(), text));
  auto loaded = engine::Backbone::Load(o.out_dir, c10::Device(c10::kCPU));
  if (!loaded.ok()) {
    return absl::InternalError(absl::StrCat("the imported folder ", o.out_dir,
                                            " does not load: ", loaded.status().message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<ImportReport> ImportTextEncoder(const ImportOptions& o) {
  RETURN_IF_ERROR(CheckTextOptions(o));
  ASSIGN_OR_RETURN(std::shared_ptr<const engine::Tokenizer> tokenizer, ImportTokenizer(o.text));
  ASSIGN_OR_RETURN(ImportReport report, ProbeText(o, *tokenizer));
  report.tokenizer = std::string(tokenizer->kind());
  report.vocab_size = tokenizer->vocab_size();
  if (!o.meta_learner.empty()) {
    engine::MetaLearner meta;
    RETURN_IF_ERROR(engine::LoadMetaLearner(o.meta_learner, &meta));
  }
  const v1::ModelConfig config =
      TextModelConfig(o, report.tokenizer, report.feature_dim, !o.meta_learner.empty());
  const std::string tokenizer_file =
      config.text().vocab_file().empty() ? config.text().sentencepiece_file()
                                         : config.text().vocab_file();
  RETURN_IF_ERROR(WriteModelFolder(o, config, tokenizer_file));
  return report;
}

}  // namespace

absl::StatusOr<ImportReport> ImportTorchScript(const ImportOptions& o) {
  if (!o.text.tokenizer.empty()) return ImportTextEncoder(o);
  RETURN_IF_ERROR(CheckOptions(o));
  ASSIGN_OR_RETURN(ImportReport report, Probe(o));
  if (!o.meta_learner.empty()) {
    engine::MetaLearner meta;
    RETURN_IF_ERROR(engine::LoadMetaLearner(o.meta_learner, &meta));
  }
  RETURN_IF_ERROR(
      WriteModelFolder(o, Config(o, report.feature_dim, !o.meta_learner.empty()), ""));
  return report;
}

}  // namespace adaptd::train
