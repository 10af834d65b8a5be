// Writes a model repository folder that adaptd loads as it is: model.pbtxt
// (adaptd.v1.ModelConfig), the backbone's weights, for a text model its
// tokenizer file and, where one was trained, the meta-learner. No LibTorch
// in this header.
#ifndef ADAPTD_TRAIN_EXPORT_H_
#define ADAPTD_TRAIN_EXPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "adaptd/v1/model_config.pb.h"
#include "server/engine/base/types.h"
#include "train/dataset.h"
#include "train/pretrain.h"

namespace adaptd::train {

// How the native models normalise pixels: scale to [0,1], then
// (x - 0.5) / 0.5 in every channel, with images stretched to `shape`.
// Training uses the same figures, so what adaptd feeds the backbone is what
// it was trained on.
engine::Preprocessing DefaultPreprocessing(const ImageShape& shape = {});

// name, modality "image", input_shape and preprocessing from `pre`,
// feature_dim and format (the architecture name).
v1::ModelConfig MakeModelConfig(const std::string& name, const std::string& arch,
                                int64_t feature_dim,
                                const engine::Preprocessing& pre = DefaultPreprocessing());

// model.pbtxt's tokenizer fields for the tokenizer file `path`: a ".model"
// is SentencePiece (text.tokenizer "sentencepiece", sentencepiece_file),
// anything else a WordPiece vocab.txt (vocab_file, lower_case). The file is
// named by its base name: export copies it beside model.pbtxt.
v1::TextConfig TokenizerConfig(const std::string& path, bool lower_case);

// name, modality "text", the tokenizer's fields (TokenizerConfig of
// encoder.tokenizer) and the encoder's: format "text-transformer",
// feature_dim, text.transformer, text.max_seq_length and text.pooling.
v1::ModelConfig MakeTextModelConfig(const std::string& name, const TextEncoderOptions& encoder,
                                    int64_t vocab_size);

// The input shape `pretrain` recorded in report.json beside `weights`;
// 1x28x28 grey when there is none. INVALID_ARGUMENT when it is unreadable.
absl::StatusOr<ImageShape> PretrainedShape(const std::string& weights);

struct ExportOptions {
  // Image backbones: the architecture of the weights. A text encoder's shape
  // comes from the report.json beside them.
  std::string arch = "conv4";
  // Backbone weights written by `pretrain` (work_dir/backbone.pt). Required.
  std::string weights;
  // A meta-learner saved with SaveMetaLearner; empty for none.
  std::string meta_learner;
  // The model folder to write, e.g. models/glyphs-conv4. Required.
  std::string out_dir;
  std::string name = "glyphs-conv4";
  // FINETUNE's learning rate in model.pbtxt; 0 leaves the engine's default.
  double finetune_lr = 0;
  // model.pbtxt's default_method ("prototype", "finetune", "meta"; empty:
  // the engine's rule) and why (choose-default's reason line).
  std::string default_method;
  std::string default_method_reason;
  // How adaptd resizes images for it: resize_mode, resize_shorter_side and
  // background (stretch by default). The sizes, channels, mean and std are
  // the weights' own (PretrainedShape, DefaultPreprocessing).
  v1::Preprocessing resize;
  // Text encoders: the tokenizer file to ship; empty: the one pretraining
  // used (report.json). It must give the ids the encoder was trained on.
  std::string tokenizer;
};

// Loads the weights into the architecture and writes the folder with
// engine::ExportModel, then loads it back with Backbone::Load to check it
// serves. When the report.json beside the weights says modality "text", the
// folder is a text model (engine::ExportTextModel) with the tokenizer copied
// in. INVALID_ARGUMENT / NOT_FOUND for bad options or files.
absl::Status ExportPretrained(const ExportOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_EXPORT_H_
