#include "train/features.h"

#include <algorithm>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "server/engine/input/input_decoder.h"
#include "server/common/status_macros.h"

namespace adaptd::train {

namespace {

// EmbedDataset for a text backbone: batches of texts of similar length, so
// that few rows carry much padding; the rows go back to data order.
absl::StatusOr<at::Tensor> EmbedTexts(const engine::Backbone& backbone, const Dataset& data,
                                      int batch_size) {
  const auto& info = backbone.info();
  ASSIGN_OR_RETURN(const TokenizedTexts texts,
                   TokenizeTexts(*backbone.tokenizer(), data.texts, info.text.max_seq_length));
  std::vector<int64_t> order(static_cast<size_t>(data.size()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return texts.lengths[static_cast<size_t>(a)] < texts.lengths[static_cast<size_t>(b)];
  });
  at::Tensor out = torch::empty({data.size(), info.feature_dim},
                                torch::TensorOptions().device(backbone.device()));
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    const int64_t n = std::min<int64_t>(batch_size, data.size() - start);
    engine::BackboneInput batch = TextBatch(texts, order.data() + start, n);
    batch.values = batch.values.to(backbone.device());
    batch.attention_mask = batch.attention_mask.to(backbone.device());
    ASSIGN_OR_RETURN(at::Tensor features, backbone.Features(batch));
    const at::Tensor rows =
        torch::tensor(std::vector<int64_t>(order.begin() + start, order.begin() + start + n),
                      torch::kLong)
            .to(backbone.device());
    out.index_copy_(0, rows, features.clone());  // Out of inference mode.
  }
  return out;
}

}  // namespace

absl::StatusOr<TokenizedTexts> TokenizeTexts(const engine::Tokenizer& tokenizer,
                                             const std::vector<std::string>& texts,
                                             int max_length) {
  TokenizedTexts out;
  out.pad_id = tokenizer.pad_id();
  std::vector<engine::TextEncoding> encodings;
  encodings.reserve(texts.size());
  int64_t longest = 1;
  for (size_t i = 0; i < texts.size(); ++i) {
    engine::TextEncodeOptions options;
    options.field = absl::StrCat("texts[", i, "]");
    ASSIGN_OR_RETURN(engine::TextEncoding e, tokenizer.Encode(texts[i], max_length, options));
    if (e.ids.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(options.field, ": has no token"));
    }
    out.truncated += e.truncated();
    out.lengths.push_back(static_cast<int64_t>(e.ids.size()));
    longest = std::max(longest, out.lengths.back());
    encodings.push_back(std::move(e));
  }
  const int64_t n = static_cast<int64_t>(texts.size());
  out.ids = torch::full({n, longest}, out.pad_id, torch::kLong);
  auto ids = out.ids.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int32_t>& e = encodings[static_cast<size_t>(i)].ids;
    for (size_t j = 0; j < e.size(); ++j) ids[i][static_cast<int64_t>(j)] = e[j];
  }
  return out;
}

engine::BackboneInput TextBatch(const TokenizedTexts& texts, const int64_t* indices, int64_t n) {
  int64_t longest = 1;
  for (int64_t i = 0; i < n; ++i) {
    longest = std::max(longest, texts.lengths[static_cast<size_t>(indices[i])]);
  }
  const at::Tensor rows = torch::from_blob(const_cast<int64_t*>(indices), {n}, torch::kLong);
  engine::BackboneInput batch;
  batch.values = texts.ids.index_select(0, rows).narrow(1, 0, longest).contiguous();
  batch.attention_mask = torch::zeros({n, longest}, torch::kLong);
  auto mask = batch.attention_mask.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t length = texts.lengths[static_cast<size_t>(indices[i])];
    for (int64_t j = 0; j < length; ++j) mask[i][j] = 1;
  }
  return batch;
}

absl::StatusOr<at::Tensor> EmbedDataset(const engine::Backbone& backbone, const Dataset& data,
                                        int batch_size) {
  const auto& info = backbone.info();
  const bool text_data = data.modality == Modality::kText;
  if (backbone.is_text() != text_data) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backbone ", info.name, " takes ", backbone.is_text() ? "text" : "images",
        "; this data set holds ", text_data ? "texts" : "images"));
  }
  if (backbone.is_text()) return EmbedTexts(backbone, data, batch_size);
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
