#include "train/features.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "server/engine/input/input_decoder.h"
#include "server/common/status_macros.h"

namespace adaptd::train {

absl::StatusOr<at::Tensor> EmbedDataset(const engine::Backbone& backbone, const Dataset& data,
                                        int batch_size) {
  const auto& info = backbone.info();
  if (info.input_shape != data.shape.dims()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backbone ", info.name, " takes ", engine::ShapeString(info.input_shape),
        " inputs; these images are ", engine::ShapeString(data.shape.dims()),
        ": make the cache with `adapt-train data folders --size H,W --channels C`"));
  }
  const int64_t bytes = data.shape.bytes();
  std::vector<at::Tensor> parts;
  std::vector<float> buffer;
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    const int64_t n = std::min<int64_t>(batch_size, data.size() - start);
    buffer.resize(n * bytes);
    for (int64_t i = 0; i < n; ++i) {
      engine::InputRef ref;
      ref.kind = engine::InputRef::Kind::kTensor;
      ref.shape = info.input_shape;
      ref.dtype = engine::DType::kUint8;
      ref.data = absl::string_view(reinterpret_cast<const char*>(data.image(start + i)), bytes);
      RETURN_IF_ERROR(engine::DecodeInput(ref, info.input_shape, info.preprocessing, {}, "image",
                                          buffer.data() + i * bytes));
    }
    std::vector<int64_t> dims = {n};
    dims.insert(dims.end(), info.input_shape.begin(), info.input_shape.end());
    // A copy on the backbone's device: `buffer` is refilled for the next batch.
    auto batch = torch::from_blob(buffer.data(), dims)
                     .to(backbone.device(), torch::kFloat, /*non_blocking=*/false, /*copy=*/true);
    ASSIGN_OR_RETURN(at::Tensor features, backbone.Features(batch));
    parts.push_back(features.clone());  // Out of inference mode.
  }
  if (parts.empty()) {
    return torch::zeros({0, info.feature_dim}, torch::TensorOptions().device(backbone.device()));
  }
  return torch::cat(parts);
}

EpisodeTensors GatherEpisode(const at::Tensor& features, const Episode& episode) {
  auto rows = [&](const std::vector<int64_t>& ids) {
    return features.index_select(0, torch::tensor(ids, torch::kLong).to(features.device()));
  };
  auto labels = [&](const std::vector<int32_t>& ys) {
    return torch::tensor(std::vector<int64_t>(ys.begin(), ys.end()), torch::kLong)
        .to(features.device());
  };
  return {rows(episode.support), labels(episode.support_labels), rows(episode.query),
          labels(episode.query_labels), static_cast<int64_t>(episode.classes.size())};
}

at::Tensor PixelFeatures(const Dataset& data) {
  auto bytes = torch::from_blob(const_cast<uint8_t*>(data.pixels.data()),
                                {data.size(), data.shape.bytes()}, torch::kUInt8);
  return bytes.to(torch::kFloat) / 255.0;
}

}  // namespace adaptd::train
