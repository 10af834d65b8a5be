// A loaded backbone: its network on the device, its configuration and, where
// one was trained, its meta-learner. An image backbone takes [N,C,H,W]
// floats; a text backbone (modality "text": a TorchScript encoder, or the
// native "text-transformer" of text_nets.h) takes token ids from its
// tokenizer (text/tokenizer.h) and pools the encoder's token features.
// Thread-safe after creation: Features() may be called from many threads at
// once.
#ifndef ADAPTD_SERVER_ENGINE_MODEL_BACKBONE_H_
#define ADAPTD_SERVER_ENGINE_MODEL_BACKBONE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "absl/status/statusor.h"
#include "adaptd/v1/model_config.pb.h"
#include "server/engine/adapt/meta_learner.h"
#include "server/engine/model/nets.h"
#include "server/engine/base/types.h"
#include "server/engine/text/tokenizer.h"

namespace adaptd::engine {

class TextTransformer;  // text_nets.h

// One batch of backbone input. Images: `values` is [N,C,H,W] float. Text:
// `values` is the token ids [N,T] int64 and `attention_mask` [N,T] int64 (1
// a token, 0 padding).
struct BackboneInput {
  at::Tensor values;
  at::Tensor attention_mask;  // Text only.
  int64_t rows() const { return values.size(0); }
};

class Backbone {
 public:
  // Loads one model folder: model.pbtxt, the backbone file (TorchScript or a
  // native architecture's weights) and the optional meta-learner; for text,
  // also the vocab. A config error is INVALID_ARGUMENT (or NOT_FOUND for a
  // missing file) naming the model.pbtxt field; a network whose probe output
  // does not match feature_dim is FAILED_PRECONDITION saying what it returned.
  // info() carries the folder's fingerprint (fingerprint.h) and version.
  static absl::StatusOr<std::shared_ptr<Backbone>> Load(const std::string& folder,
                                                        c10::Device device);

  // Wraps an in-memory native network (adapt-train, tests). `meta` may be
  // empty (nullptr holder).
  static absl::StatusOr<std::shared_ptr<Backbone>> FromNet(
      const adaptd::v1::ModelConfig& config, std::shared_ptr<FeatureNet> net,
      MetaLearner meta, c10::Device device);
  // Wraps an in-memory native text encoder (format "text-transformer") and
  // its tokenizer: what Load builds from such a folder, and what adapt-train
  // evaluates while it trains. `meta` may be empty.
  static absl::StatusOr<std::shared_ptr<Backbone>> FromTextNet(
      const adaptd::v1::ModelConfig& config, std::shared_ptr<TextTransformer> net,
      std::shared_ptr<const Tokenizer> tokenizer, MetaLearner meta, c10::Device device);

  const BackboneInfo& info() const { return info_; }
  const adaptd::v1::ModelConfig& config() const { return config_; }
  c10::Device device() const { return device_; }
  // nullptr when the backbone has no meta-learner.
  MetaLearner* meta_learner() { return meta_.is_empty() ? nullptr : &meta_; }
  bool has_meta_learner() const { return !meta_.is_empty(); }
  // The tokenizer of a text backbone; nullptr for an image backbone.
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  bool is_text() const { return tokenizer_ != nullptr; }
  // The id that pads token ids: the tokenizer's pad id, else 0.
  int64_t pad_id() const;

  // Inputs on device() -> L2-normalised features [N,D], computed under
  // inference mode. Text features are pooled first (info().text.pooling).
  absl::StatusOr<at::Tensor> Features(const BackboneInput& inputs) const;
  // Images only: [N,C,H,W] float on device().
  absl::StatusOr<at::Tensor> Features(const at::Tensor& inputs) const;

 private:
  using Forward = std::function<at::Tensor(const BackboneInput&)>;
  // Load without the fingerprint.
  static absl::StatusOr<std::shared_ptr<Backbone>> LoadFiles(const std::string& folder,
                                                             c10::Device device);
  static absl::StatusOr<std::shared_ptr<Backbone>> LoadText(const adaptd::v1::ModelConfig& config,
                                                            const std::string& folder,
                                                            MetaLearner meta, c10::Device device);
  static absl::StatusOr<std::shared_ptr<Backbone>> Make(
      const adaptd::v1::ModelConfig& config, Forward forward, int64_t parameters,
      int64_t memory_bytes, MetaLearner meta, c10::Device device,
      std::shared_ptr<const Tokenizer> tokenizer = nullptr);
  // A small batch that every backbone of this modality takes.
  BackboneInput ProbeInput() const;
  Backbone() = default;

  adaptd::v1::ModelConfig config_;
  BackboneInfo info_;
  c10::Device device_{c10::kCPU};
  Forward forward_;
  MetaLearner meta_{nullptr};
  std::shared_ptr<const Tokenizer> tokenizer_;
};

// Writes a model folder that Backbone::Load reads back: model.pbtxt, the
// native network's weights (backbone.pt) and, if given, the meta-learner
// (meta_learner.pt). Fills in the file names in the written config.
absl::Status ExportModel(const std::string& folder, adaptd::v1::ModelConfig config,
                         torch::nn::Module& net, MetaLearner* meta);

// ExportModel for a native text encoder: also copies `tokenizer_file` into
// the folder and names it in text.vocab_file or text.sentencepiece_file, as
// config.text().tokenizer says, and writes the encoder's shape
// (TextTransformerOptionsToConfig). The rest of config.text() (tokenizer,
// lower_case) is the caller's.
absl::Status ExportTextModel(const std::string& folder, adaptd::v1::ModelConfig config,
                             TextTransformer& net, MetaLearner* meta,
                             const std::string& tokenizer_file);

// Loads every sub-folder of `repository` holding a model.pbtxt. A folder that
// fails is reported through `on_error(folder, status)` and skipped.
absl::StatusOr<std::vector<std::shared_ptr<Backbone>>> LoadModelRepository(
    const std::string& repository, c10::Device device,
    const std::function<void(const std::string&, const absl::Status&)>& on_error);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_MODEL_BACKBONE_H_
