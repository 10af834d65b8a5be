// Backbone features of a whole data set, computed once: meta-training and
// evaluation freeze the backbone, so every episode reuses them.
#ifndef ADAPTD_TRAIN_FEATURES_H_
#define ADAPTD_TRAIN_FEATURES_H_


#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "server/engine/model/backbone.h"
#include "train/dataset.h"
#include "train/episodes.h"

namespace adaptd::train {

// Normalised features [N, D] of every image of `data`, preprocessed as
// adaptd preprocesses UINT8 tensors (the backbone's mean/std), on the
// backbone's device. FAILED_PRECONDITION when the images' shape is not the
// backbone's input shape.
absl::StatusOr<at::Tensor> EmbedDataset(const engine::Backbone& backbone, const Dataset& data,
                                        int batch_size = 256);

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
