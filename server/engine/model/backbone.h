// A loaded backbone: its network on the device, its configuration and, where
// one was trained, its meta-learner. Thread-safe after creation: Features()
// may be called from many threads at once.
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

namespace adaptd::engine {

class Backbone {
 public:
  // Loads one model folder: model.pbtxt, the backbone file (TorchScript or a
  // native architecture's weights) and the optional meta-learner.
  static absl::StatusOr<std::shared_ptr<Backbone>> Load(const std::string& folder,
                                                        c10::Device device);

  // Wraps an in-memory native network (adapt-train, tests). `meta` may be
  // empty (nullptr holder).
  static absl::StatusOr<std::shared_ptr<Backbone>> FromNet(
      const adaptd::v1::ModelConfig& config, std::shared_ptr<FeatureNet> net,
      MetaLearner meta, c10::Device device);

  const BackboneInfo& info() const { return info_; }
  const adaptd::v1::ModelConfig& config() const { return config_; }
  c10::Device device() const { return device_; }
  // nullptr when the backbone has no meta-learner.
  MetaLearner* meta_learner() { return meta_.is_empty() ? nullptr : &meta_; }
  bool has_meta_learner() const { return !meta_.is_empty(); }

  // [N,C,H,W] float on device() -> L2-normalised features [N,D], computed
  // under inference mode.
  absl::StatusOr<at::Tensor> Features(const at::Tensor& inputs) const;

 private:
  using Forward = std::function<at::Tensor(const at::Tensor&)>;
  static absl::StatusOr<std::shared_ptr<Backbone>> Make(
      const adaptd::v1::ModelConfig& config, Forward forward, int64_t parameters,
      int64_t memory_bytes, MetaLearner meta, c10::Device device);
  Backbone() = default;

  adaptd::v1::ModelConfig config_;
  BackboneInfo info_;
  c10::Device device_{c10::kCPU};
  Forward forward_;
  MetaLearner meta_{nullptr};
};

// Writes a model folder that Backbone::Load reads back: model.pbtxt, the
// native network's weights (backbone.pt) and, if given, the meta-learner
// (meta_learner.pt). Fills in the file names in the written config.
absl::Status ExportModel(const std::string& folder, adaptd::v1::ModelConfig config,
                         FeatureNet& net, MetaLearner* meta);

// Loads every sub-folder of `repository` holding a model.pbtxt. A folder that
// fails is reported through `on_error(folder, status)` and skipped.
absl::StatusOr<std::vector<std::shared_ptr<Backbone>>> LoadModelRepository(
    const std::string& repository, c10::Device device,
    const std::function<void(const std::string&, const absl::Status&)>& on_error);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_MODEL_BACKBONE_H_
