// A backbone's identity: a SHA-256 over everything that decides the features
// it produces for an input, so that an adapter (a head fitted on those
// features) can tell whether the backbone it was fitted on is still the one
// being served. Stateless functions; thread-safe.
//
// What is hashed, each part framed with its name and length:
//   - the weights file (backbone_file), byte for byte;
//   - modality, format, feature_dim and input_shape;
//   - preprocessing, as model.pbtxt gives it (so writing out a default value
//     that was left implicit before also counts as a change);
//   - text backbones: the text settings (max_seq_length, pooling, casing,
//     tokenizer kind, encoder shape) and the bytes of every tokenizer file
//     the text config names (each string field of TextConfig ending in
//     "_file": vocab_file, sentencepiece_file, ...), not their names.
// What is not: the model's name and version, the meta-learner and the
// methods' defaults. Those change how new adapters are fitted, not what the
// features of a stored adapter's inputs are.
//
//   ASSIGN_OR_RETURN(std::string fp, ModelFingerprint(config, "/models/glyphs"));
//   // fp == "sha256:3b1f...".
#ifndef ADAPTD_SERVER_ENGINE_MODEL_FINGERPRINT_H_
#define ADAPTD_SERVER_ENGINE_MODEL_FINGERPRINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adaptd/v1/model_config.pb.h"

namespace adaptd::engine {

// "sha256:" and 64 lower-case hex digits. Files are relative to `folder`; a
// missing or unreadable one is NOT_FOUND naming its model.pbtxt field.
absl::StatusOr<std::string> ModelFingerprint(const adaptd::v1::ModelConfig& config,
                                             const std::string& folder);

// The SHA-256 of `bytes` as 64 lower-case hex digits (FIPS 180-4).
std::string Sha256Hex(absl::string_view bytes);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_MODEL_FINGERPRINT_H_
