// Plain value types shared by the engine and its callers. No LibTorch, no
// gRPC: the service layer converts between these and the protos.
#ifndef ADAPTD_SERVER_ENGINE_BASE_TYPES_H_
#define ADAPTD_SERVER_ENGINE_BASE_TYPES_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace adaptd::engine {

enum class Method { kUnspecified = 0, kMeta = 1, kFinetune = 2, kPrototype = 3 };
enum class DType { kUnspecified = 0, kFloat32 = 1, kUint8 = 2 };

const char* MethodName(Method method);  // "META", "FINETUNE", ...

// Formats a shape as "[1,28,28]".
std::string ShapeString(const std::vector<int64_t>& shape);

// One input, viewing bytes owned by the caller for the duration of a call.
struct InputRef {
  enum class Kind { kMissing, kTensor, kImage, kText };
  // kImage: encoded PNG/JPEG in `data`; kText: UTF-8 text in `data`.
  Kind kind = Kind::kMissing;
  std::vector<int64_t> shape;         // Tensor inputs only.
  DType dtype = DType::kUnspecified;  // Tensor inputs only.
  absl::string_view data;
};

struct LabeledInput {
  std::string label;
  InputRef input;
};

// How an image becomes model input (the proto's Preprocessing, validated).
struct Preprocessing {
  enum class ResizeMode {
    kStretch,      // Both sides to the input size at once.
    kShorterSide,  // The shorter side to resize_shorter_side, then the centre crop.
  };
  int resize_height = 0;  // The model's input height and width.
  int resize_width = 0;
  int channels = 1;         // 1: grey, 3: RGB.
  std::vector<float> mean;  // Per channel; empty means 0.
  std::vector<float> std;   // Per channel; empty means 1.
  ResizeMode resize_mode = ResizeMode::kStretch;
  int resize_shorter_side = 0;  // kShorterSide; 0: min(resize_height, resize_width).
  std::array<uint8_t, 3> background = {0, 0, 0};  // Alpha is composited over it.
};

// How a text backbone tokenizes and pools (the proto's TextInfo).
struct TextInfo {
  std::string tokenizer;  // "wordpiece".
  int vocab_size = 0;
  int max_seq_length = 0;  // Tokens, [CLS] and [SEP] included.
  std::string pooling;     // "cls", "mean", or "none" when the encoder pools.
  bool lower_case = false;
};

struct BackboneInfo {
  std::string name;
  std::string modality;              // "image" or "text".
  std::vector<int64_t> input_shape;  // [C,H,W]; empty for text.
  int64_t feature_dim = 0;
  std::string device;
  std::vector<Method> methods;
  Method default_method = Method::kPrototype;
  std::string default_method_reason;  // model.pbtxt's, may be empty.
  int64_t parameters = 0;
  int64_t memory_bytes = 0;
  Preprocessing preprocessing;
  TextInfo text;  // Text backbones only.
  // "sha256:<hex>" over what decides its features (model/fingerprint.h);
  // empty for a backbone built in memory, which then matches any adapter.
  std::string fingerprint;
  std::string version;  // model.pbtxt's version; may be empty.
};

struct AdaptStats {
  double adapt_seconds = 0;
  double backbone_seconds = 0;
  int steps = 0;
  double support_loss_before = 0;
  double support_loss_after = 0;
  std::string device;
  double compute_seconds = 0;  // Device time: CPU thread time or CUDA time.
  int truncated_inputs = 0;    // Support texts cut to the backbone's max_seq_length.
};

// Copies the fields that every proto carrying AdaptStats shares by name (the
// API's AdaptStats, the stored record's StoredAdaptStats), so that neither
// caller lists them again.
template <typename StatsProto>
void CopyAdaptStats(const AdaptStats& stats, StatsProto* out) {
  out->set_adapt_seconds(stats.adapt_seconds);
  out->set_backbone_seconds(stats.backbone_seconds);
  out->set_steps(stats.steps);
  out->set_support_loss_before(stats.support_loss_before);
  out->set_support_loss_after(stats.support_loss_after);
  out->set_device(stats.device);
  out->set_truncated_inputs(stats.truncated_inputs);
}

// Everything about an adapter except its head tensors.
struct AdapterInfo {
  std::string adapter_id;
  std::string tenant;
  std::string request_id;
  std::string backbone;
  Method method = Method::kUnspecified;
  std::vector<std::string> labels;
  int support_size = 0;
  int64_t size_bytes = 0;
  absl::Time create_time;
  absl::Time expire_time;
  AdaptStats stats;
  // BackboneInfo::fingerprint when it was fitted. Empty (stored before
  // fingerprints, or fitted on an in-memory backbone): served as matching.
  std::string backbone_fingerprint;
};

// Where one folder of the model repository stands.
struct ModelStatus {
  enum class State { kReady, kFailed, kUnloaded };
  std::string model;     // The folder's name; for a backbone given in memory, its name.
  std::string backbone;  // The backbone it serves; empty if none.
  State state = State::kFailed;
  // kFailed: why. kReady: empty, or why the last reload failed (the
  // previous version still serves).
  std::string message;
  std::string version;
  std::string fingerprint;
  absl::Time update_time;
};

struct ClassScore {
  std::string label;
  float probability = 0;
};

struct Prediction {
  std::string label;
  float probability = 0;
  std::vector<ClassScore> scores;  // Best first, top_k of them.
  bool truncated = false;          // The input text was cut to max_seq_length.
};

// Who is calling and until when; the service fills it from the gRPC context.
struct CallContext {
  std::string tenant = "default";
  absl::Time deadline = absl::InfiniteFuture();
  // Returns true once the client has gone away. May be empty.
  bool (*cancelled)(const void* arg) = nullptr;
  const void* cancelled_arg = nullptr;
  bool IsCancelled() const { return cancelled && cancelled(cancelled_arg); }
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_BASE_TYPES_H_
