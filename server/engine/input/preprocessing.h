// The model's preprocessing as model.pbtxt and ListBackbones carry it (the
// proto) and as the decoder applies it (engine::Preprocessing), both ways,
// in one place. No LibTorch. Thread-safe (stateless).
#ifndef ADAPTD_SERVER_ENGINE_INPUT_PREPROCESSING_H_
#define ADAPTD_SERVER_ENGINE_INPUT_PREPROCESSING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "adaptd/v1/adaptd.pb.h"
#include "server/engine/base/types.h"

namespace adaptd::engine {

// Validates `proto` for a model whose input shape is `shape` ([C,H,W]; its
// sizes win over the proto's resize_height/width). INVALID_ARGUMENT names
// the field: "preprocessing.resize_mode: ...".
absl::StatusOr<Preprocessing> PreprocessingFromProto(const v1::Preprocessing& proto,
                                                     const std::vector<int64_t>& shape);

// Every field, defaults spelt out, so clients can preprocess themselves.
void PreprocessingToProto(const Preprocessing& pre, v1::Preprocessing* proto);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_INPUT_PREPROCESSING_H_
