// The one place where engine statuses become gRPC statuses.
#ifndef ADAPTD_SERVER_SERVICE_GRPC_STATUS_H_
#define ADAPTD_SERVER_SERVICE_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace adaptd::service {

// Same code, same message. Codes map one to one (absl mirrors gRPC).
grpc::Status ToGrpcStatus(const absl::Status& status);

// "OK", "INVALID_ARGUMENT", ... as Prometheus label values.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace adaptd::service

#endif  // ADAPTD_SERVER_SERVICE_GRPC_STATUS_H_
