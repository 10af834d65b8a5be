// Conversions between the public protos and the engine's value types.
#ifndef ADAPTD_SERVER_SERVICE_PROTO_CONVERT_H_
#define ADAPTD_SERVER_SERVICE_PROTO_CONVERT_H_

#include "adaptd/v1/adaptd.pb.h"
#include "server/engine/engine.h"
#include "server/engine/base/types.h"

namespace adaptd::service {

// Views into `input`, which must outlive the result.
engine::InputRef FromProto(const v1::Input& input);
// Views into `request`, which must outlive the result.
engine::Engine::AdaptRequest FromProto(const v1::AdaptRequest& request);
engine::Engine::PredictRequest FromProto(const v1::PredictRequest& request);

void ToProto(const engine::AdapterInfo& info, v1::Adapter* out);
void ToProto(const engine::BackboneInfo& info, v1::Backbone* out);
void ToProto(const engine::Prediction& prediction, v1::Prediction* out);
void ToProto(const engine::ModelStatus& status, v1::ModelStatus* out);

}  // namespace adaptd::service

#endif  // ADAPTD_SERVER_SERVICE_PROTO_CONVERT_H_
