#include "server/engine/model/nets.h"

#include <torch/nn/functional.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/pooling.h>

#include "absl/strings/str_cat.h"

namespace adaptd::engine {
namespace nn = torch::nn;

namespace {

void AppendConvBlock(nn::Sequential& seq, int64_t in, int64_t out) {
  seq->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1)));
  seq->push_back(nn::BatchNorm2d(out));
  seq->push_back(nn::ReLU());
  seq->push_back(nn::MaxPool2d(2));
}

class ResidualStage : public nn::Module {
 public:
  ResidualStage(int64_t in, int64_t out) {
    auto conv = [](int64_t i, int64_t o) {
      return nn::Conv2d(nn::Conv2dOptions(i, o, 3).padding(1).bias(false));
    };
    body_ = register_module(
        "body", nn::Sequential(conv(in, out), nn::BatchNorm2d(out),
                               nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.1)),
                               conv(out, out), nn::BatchNorm2d(out),
                               nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.1)),
                               conv(out, out), nn::BatchNorm2d(out)));
    shortcut_ = register_module(
        "shortcut", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).bias(false)),
                                   nn::BatchNorm2d(out)));
  }
  torch::Tensor forward(torch::Tensor x) {
    auto y = torch::leaky_relu(body_->forward(x) + shortcut_->forward(x), 0.1);
    return torch::max_pool2d(y, 2);
  }

 private:
  nn::Sequential body_{nullptr};
  nn::Sequential shortcut_{nullptr};
};

}  // namespace

Conv4::Conv4(int64_t in_channels, int64_t height, int64_t width, int64_t hidden) {
  body_ = register_module("body", nn::Sequential());
  for (int i = 0; i < 4; ++i) AppendConvBlock(body_, i == 0 ? in_channels : hidden, hidden);
  for (int i = 0; i < 4; ++i) {
    height /= 2;
    width /= 2;
  }
  feature_dim_ = hidden * std::max<int64_t>(height, 1) * std::max<int64_t>(width, 1);
}

torch::Tensor Conv4::forward(torch::Tensor x) { return body_->forward(x).flatten(1); }

ResNet12::ResNet12(int64_t in_channels, std::vector<int64_t> widths) {
  body_ = register_module("body", nn::Sequential());
  int64_t in = in_channels;
  for (int64_t w : widths) {
    body_->push_back(std::make_shared<ResidualStage>(in, w));
    in = w;
  }
  feature_dim_ = in;
}

torch::Tensor ResNet12::forward(torch::Tensor x) {
  return body_->forward(x).mean({2, 3});
}

absl::StatusOr<std::shared_ptr<FeatureNet>> MakeFeatureNet(
    const std::string& arch, const std::vector<int64_t>& input_shape) {
  if (input_shape.size() != 3) {
    return absl::InvalidArgumentError("input_shape must be [C,H,W]");
  }
  if (arch == "conv4") {
    return std::make_shared<Conv4>(input_shape[0], input_shape[1], input_shape[2]);
  }
  if (arch == "resnet12") return std::make_shared<ResNet12>(input_shape[0]);
  return absl::InvalidArgumentError(
      absl::StrCat("format: unknown native architecture \"", arch,
                   "\"; expected conv4, resnet12 or torchscript"));
}

}  // namespace adaptd::engine
