#include "server/service/proto_convert.h"

#include "google/protobuf/util/time_util.h"
#include "server/engine/input/preprocessing.h"

namespace adaptd::service {
namespace {

using google::protobuf::util::TimeUtil;

v1::Method ToProto(engine::Method method) { return static_cast<v1::Method>(method); }

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

}  // namespace

engine::InputRef FromProto(const v1::Input& input) {
  engine::InputRef ref;
  switch (input.kind_case()) {
    case v1::Input::kImage:
      ref.kind = engine::InputRef::Kind::kImage;
      ref.data = input.image();
      break;
    case v1::Input::kText:
      ref.kind = engine::InputRef::Kind::kText;
      ref.data = input.text();
      break;
    case v1::Input::kTensor:
      ref.kind = engine::InputRef::Kind::kTensor;
      ref.shape.assign(input.tensor().shape().begin(), input.tensor().shape().end());
      ref.dtype = static_cast<engine::DType>(input.tensor().dtype());
      ref.data = input.tensor().data();
      break;
    case v1::Input::KIND_NOT_SET:
      break;
  }
  return ref;
}

engine::Engine::AdaptRequest FromProto(const v1::AdaptRequest& request) {
  engine::Engine::AdaptRequest out;
  out.backbone = request.backbone();
  out.support.reserve(request.support_size());
  for (const auto& example : request.support()) {
    out.support.push_back({example.label(), FromProto(example.input())});
  }
  out.method = static_cast<engine::Method>(request.method());
  out.steps = request.steps();
  out.ttl = absl::Seconds(request.ttl().seconds()) + absl::Nanoseconds(request.ttl().nanos());
  out.request_id = request.request_id();
  return out;
}

engine::Engine::PredictRequest FromProto(const v1::PredictRequest& request) {
  engine::Engine::PredictRequest out;
  out.adapter_id = request.adapter_id();
  out.inputs.reserve(request.inputs_size());
  for (const auto& input : request.inputs()) out.inputs.push_back(FromProto(input));
  out.top_k = request.top_k();
  return out;
}

void ToProto(const engine::AdapterInfo& info, v1::Adapter* out) {
  out->set_adapter_id(info.adapter_id);
  out->set_backbone(info.backbone);
  out->set_method(ToProto(info.method));
  for (const auto& label : info.labels) out->add_labels(label);
  out->set_support_size(info.support_size);
  out->set_size_bytes(info.size_bytes);
  *out->mutable_create_time() = ToProto(info.create_time);
  *out->mutable_expire_time() = ToProto(info.expire_time);
  engine::CopyAdaptStats(info.stats, out->mutable_stats());
  out->set_backbone_fingerprint(info.backbone_fingerprint);
}

void ToProto(const engine::BackboneInfo& info, v1::Backbone* out) {
  out->set_name(info.name);
  out->set_modality(info.modality);
  for (int64_t d : info.input_shape) out->add_input_shape(d);
  out->set_feature_dim(info.feature_dim);
  out->set_device(info.device);
  for (auto m : info.methods) out->add_methods(ToProto(m));
  out->set_default_method(ToProto(info.default_method));
  out->set_default_method_reason(info.default_method_reason);
  out->set_parameters(info.parameters);
  out->set_memory_bytes(info.memory_bytes);
  out->set_fingerprint(info.fingerprint);
  out->set_version(info.version);
  if (info.modality == "text") {
    v1::TextInfo* text = out->mutable_text();
    text->set_tokenizer(info.text.tokenizer);
    text->set_vocab_size(info.text.vocab_size);
    text->set_max_seq_length(info.text.max_seq_length);
    text->set_pooling(info.text.pooling);
    text->set_lower_case(info.text.lower_case);
  } else {
    engine::PreprocessingToProto(info.preprocessing, out->mutable_preprocessing());
  }
}

void ToProto(const engine::Prediction& prediction, v1::Prediction* out) {
  out->set_label(prediction.label);
  out->set_probability(prediction.probability);
  out->set_truncated(prediction.truncated);
  for (const auto& score : prediction.scores) {
    auto* s = out->add_scores();
    s->set_label(score.label);
    s->set_probability(score.probability);
  }
}

void ToProto(const engine::ModelStatus& status, v1::ModelStatus* out) {
  using State = engine::ModelStatus::State;
  out->set_model(status.model);
  out->set_backbone(status.backbone);
  switch (status.state) {
    case State::kReady:
      out->set_state(v1::ModelStatus::READY);
      break;
    case State::kFailed:
      out->set_state(v1::ModelStatus::FAILED);
      break;
    case State::kUnloaded:
      out->set_state(v1::ModelStatus::UNLOADED);
      break;
  }
  out->set_message(status.message);
  out->set_version(status.version);
  out->set_fingerprint(status.fingerprint);
  *out->mutable_update_time() = ToProto(status.update_time);
}

}  // namespace adaptd::service
