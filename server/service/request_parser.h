// Parses Adapt and Predict requests from their wire bytes, so that a request
// protobuf refuses gets a status that says why. proto3 refuses a string
// field that is not UTF-8 before any handler runs, and gRPC would answer
// that with a bare UNIMPLEMENTED; here an input's text that is not UTF-8 is
// INVALID_ARGUMENT naming it, e.g. "support[3].input.text: invalid UTF-8 at
// byte 5". Thread-safe (stateless).
#ifndef ADAPTD_SERVER_SERVICE_REQUEST_PARSER_H_
#define ADAPTD_SERVER_SERVICE_REQUEST_PARSER_H_

#include <cstdint>

#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "adaptd/v1/adaptd.pb.h"

namespace adaptd::service {

absl::Status ParseRequest(const grpc::ByteBuffer& wire, v1::AdaptRequest* out);
absl::Status ParseRequest(const grpc::ByteBuffer& wire, v1::PredictRequest* out);

// Serializes `message` into `wire` (a response).
void SerializeResponse(const google::protobuf::Message& message, grpc::ByteBuffer* wire);

// The offset of the first byte of `text` that is not well-formed UTF-8
// (overlong forms, surrogates and code points past U+10FFFF included), or -1.
int64_t FirstInvalidUtf8Byte(absl::string_view text);

}  // namespace adaptd::service

#endif  // ADAPTD_SERVER_SERVICE_REQUEST_PARSER_H_
