// The project's native backbone architectures, as LibTorch modules.
// Not thread-safe while training; concurrent forwards in eval mode are safe.
#ifndef ADAPTD_SERVER_ENGINE_MODEL_NETS_H_
#define ADAPTD_SERVER_ENGINE_MODEL_NETS_H_

#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>

#include "absl/status/statusor.h"

namespace adaptd::engine {

// A backbone network: [N,C,H,W] -> [N,D] raw (unnormalised) features.
class FeatureNet : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  virtual int64_t feature_dim() const = 0;
};

// Conv4: 4 x [conv3x3(width), BN, ReLU, maxpool2], flattened.
class Conv4 : public FeatureNet {
 public:
  Conv4(int64_t in_channels, int64_t height, int64_t width, int64_t hidden = 64);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_dim() const override { return feature_dim_; }

 private:
  torch::nn::Sequential body_{nullptr};
  int64_t feature_dim_;
};

// ResNet-12: 4 residual stages of 3 conv3x3 each (widths 64,128,256,512 by
// default), each followed by maxpool2; global average pool.
class ResNet12 : public FeatureNet {
 public:
  ResNet12(int64_t in_channels, std::vector<int64_t> widths = {64, 128, 256, 512});
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_dim() const override { return feature_dim_; }

 private:
  torch::nn::Sequential body_{nullptr};
  int64_t feature_dim_;
};

// Builds a native architecture by name ("conv4" or "resnet12") for inputs of
// `input_shape` [C,H,W]. INVALID_ARGUMENT for an unknown name.
absl::StatusOr<std::shared_ptr<FeatureNet>> MakeFeatureNet(
    const std::string& arch, const std::vector<int64_t>& input_shape);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_MODEL_NETS_H_
