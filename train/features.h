// Backbone features of a whole data set, computed once: meta-training and
// evaluation freeze the backbone, so every episode reuses them.
#ifndef ADAPTD_TRAIN_FEATURES_H_
#define ADAPTD_TRAIN_FEATURES_H_

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "server/engine/model/backbone.h"
#include "server/engine/text/tokenizer.h"
#include "train/dataset.h"
#include "train/episodes.h"

namespace adaptd::train {

// Normalised features [N, D] of every item of `data`, on the backbone's
// device. Images are preprocessed as adaptd preprocesses UINT8 tensors (the
// backbone's mean/std); texts are tokenized as adaptd tokenizes a request's
// text (TokenizeTexts) and run in batches of similar length.
// FAILED_PRECONDITION when the images' shape is not the backbone's input
// shape, or when the data's modality is not the backbone's.
absl::StatusOr<at::Tensor> EmbedDataset(const engine::Backbone& backbone, const Dataset& data,
                                        int batch_size = 256);

// Texts tokenized once: row i of `ids` [N, longest] int64 holds text i's
// encoding (Tokenizer::Encode at max_length, the special tokens included),
// then pad_id; lengths[i] is its token count.
struct TokenizedTexts {
  at::Tensor ids;
  std::vector<int64_t> lengths;
  int64_t truncated = 0;  // Texts cut to max_length.
  int32_t pad_id = 0;
};

// What adaptd's text path does to each text (engine::EncodeTextInput without
// the request limits). INVALID_ARGUMENT naming "texts[i]" for a text the
// tokenizer refuses or that has no token.
absl::StatusOr<TokenizedTexts> TokenizeTexts(const engine::Tokenizer& tokenizer,
                                             const std::vector<std::string>& texts,
                                             int max_length);

// Rows indices[0..n) of `texts` as one backbone batch on the CPU: ids and
// attention mask [n, the longest of them].
engine::BackboneInput TextBatch(const TokenizedTexts& texts, const int64_t* indices, int64_t n);

// One episode's rows of a feature matrix, with int64 labels, on the
// features' device.
struct EpisodeTensors {
  at::Tensor support, support_labels, query, query_labels;
  int64_t ways = 0;
};
EpisodeTensors GatherEpisode(const at::Tensor& features, const Episode& episode);

// Raw pixels scaled to [0,1], [N, 784]: the nearest-centroid-on-pixels
// baseline's "features".
at::Tensor PixelFeatures(const Dataset& data);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_FEATURES_H_
