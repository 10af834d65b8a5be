#include "train/import.h"

#include <torch/script.h>

#include <filesystem>
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

absl::Status CheckOptions(const ImportOptions& o) {
  if (o.name.empty()) return absl::InvalidArgumentError("name: required");
  if (o.out_dir.empty()) return absl::InvalidArgumentError("out: required");
  if (o.torchscript.empty()) return absl::InvalidArgumentError("torchscript: required");
  std::error_code ec;
  if (!fs::is_regular_file(o.torchscript, ec)) {
    return absl::NotFoundError(absl::StrCat("torchscript: ", o.torchscript, " is not a file"));
  }
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

// Loads the module and runs a probe batch; the feature size it gives.
absl::StatusOr<ImportReport> Probe(const ImportOptions& o) {
  torch::jit::Module module;
  const std::string load_error =
      TorchError([&] { module = torch::jit::load(o.torchscript, torch::kCPU); });
  if (!load_error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "torchscript: ", o.torchscript, " is not a TorchScript module (", load_error, ")"));
  }
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

}  // namespace

absl::StatusOr<ImportReport> ImportTorchScript(const ImportOptions& o) {
  RETURN_IF_ERROR(CheckOptions(o));
  ASSIGN_OR_RETURN(ImportReport report, Probe(o));
  if (!o.meta_learner.empty()) {
    engine::MetaLearner meta;
    RETURN_IF_ERROR(engine::LoadMetaLearner(o.meta_learner, &meta));
  }
  const fs::path dir(o.out_dir);
  RETURN_IF_ERROR(CopyInto(o.torchscript, dir / "backbone.pt"));
  if (!o.meta_learner.empty()) RETURN_IF_ERROR(CopyInto(o.meta_learner, dir / "meta_learner.pt"));
  std::string text;
  google::protobuf::TextFormat::PrintToString(
      Config(o, report.feature_dim, !o.meta_learner.empty()), &text);
  // model.pbtxt last: a folder without it is not a model to adaptd.
  RETURN_IF_ERROR(WriteFileAtomically((dir / "model.pbtxt").string(), text));
  auto loaded = engine::Backbone::Load(o.out_dir, c10::Device(c10::kCPU));
  if (!loaded.ok()) {
    return absl::InternalError(absl::StrCat("the imported folder ", o.out_dir,
                                            " does not load: ", loaded.status().message()));
  }
  return report;
}

}  // namespace adaptd::train
