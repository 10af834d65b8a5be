#include "tests/test_util/tiny_models.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <google/protobuf/text_format.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "server/engine/model/backbone.h"
#include "server/engine/adapt/meta_learner.h"
#include "server/engine/model/nets.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::testing {

namespace {

adaptd::v1::ModelConfig TinyConfig(const std::string& name, const std::string& format,
                                   int64_t feature_dim) {
  adaptd::v1::ModelConfig config;
  config.set_name(name);
  config.set_modality("image");
  for (int64_t d : {1, kSide, kSide}) config.add_input_shape(d);
  config.mutable_preprocessing()->add_mean(0.5f);
  config.mutable_preprocessing()->add_std(0.5f);
  config.set_feature_dim(feature_dim);
  config.set_format(format);
  return config;
}

}  // namespace

void WriteTinyConv4Model(const std::string& dir, const std::string& name, bool with_meta,
                         uint64_t seed) {
  torch::manual_seed(seed);
  auto net = engine::MakeFeatureNet("conv4", {1, kSide, kSide});
  if (!net.ok()) throw std::runtime_error(std::string(net.status().message()));
  engine::MetaLearner meta(nullptr);
  if (with_meta) {
    engine::MetaLearnerOptions meta_options;
    meta_options.feature_dim = (*net)->feature_dim();
    meta = engine::MetaLearner(meta_options);  // Untrained: adapts as PROTOTYPE does.
  }
  auto status = engine::ExportModel(dir, TinyConfig(name, "conv4", (*net)->feature_dim()),
                                    **net, with_meta ? &meta : nullptr);
  if (!status.ok()) throw std::runtime_error(std::string(status.message()));
}

void SaveTinyRgbTorchScript(const std::string& path) {
  torch::manual_seed(5);
  torch::jit::Module net("Net");
  net.register_parameter("w", torch::randn({8, 3, 3, 3}) * 0.3, false);
  net.register_parameter("proj", torch::randn({8, 16}) * 0.3, false);
  net.define(R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w, None, [2, 2]))
    return torch.matmul(y.mean([2, 3]), self.proj)
)");
  net.save(path);
}

void WriteTinyTorchScriptModel(const std::string& dir, const std::string& name) {
  std::filesystem::create_directories(dir);
  torch::manual_seed(11);
  torch::jit::Module module("TinyBackbone");
  module.register_parameter("proj", torch::randn({kSide * kSide, 32}) * 0.05, false);
  module.define(R"(
    def forward(self, x):
        return torch.relu(torch.matmul(x.flatten(1), self.proj))
  )");
  module.save((std::filesystem::path(dir) / "backbone.ts").string());
  auto config = TinyConfig(name, "torchscript", 32);
  config.set_backbone_file("backbone.ts");
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  std::ofstream(std::filesystem::path(dir) / "model.pbtxt") << text;
}

}  // namespace adaptd::testing
