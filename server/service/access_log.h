// Request ids and the access log for every RPC the server answers
// (AdaptationService, health, reflection), as a gRPC server interceptor so
// that no handler has to take part.
//
// Request id: the caller's `x-request-id` metadata when it holds 1 to 128
// printable ASCII characters, else a new random one (32 hex digits). It is
// sent back in the response's initial metadata under the same key, and it is
// in the call's access log line, so a client can quote it to an operator.
//
// Access log: when enabled, one line per finished call with `rpc`, `code`,
// `duration_ms`, `tenant`, `request_id`, `peer` and, for a failed call, the
// status message as `error`. Failed calls are always logged; successful ones
// with probability `sample`. Nothing else of the call is logged: never its
// metadata (the bearer token) nor its messages (the inputs).
//
//   builder.experimental().SetInterceptorCreators(
//       MakeRequestLogInterceptors(options, &logger, auth));
#ifndef ADAPTD_SERVER_SERVICE_ACCESS_LOG_H_
#define ADAPTD_SERVER_SERVICE_ACCESS_LOG_H_

#include <memory>
#include <vector>

#include <grpcpp/support/server_interceptor.h>

#include "absl/status/status.h"
#include "server/common/log.h"
#include "server/service/auth.h"

namespace adaptd::service {

inline constexpr char kRequestIdMetadata[] = "x-request-id";

struct AccessLogOptions {
  // One log line per call; off: request ids are still read and echoed.
  bool enabled = false;
  // The fraction of successful calls logged, in [0, 1]; failed calls are
  // always logged.
  double sample = 1.0;
};

// INVALID_ARGUMENT naming access_log_sample when it is outside [0, 1].
absl::Status ValidateAccessLogOptions(const AccessLogOptions& options);

// The interceptor factories to install on a ServerBuilder. `logger` and
// `auth` must outlive the server; `auth` may be null (auth off: every call's
// tenant is "default"). The tenant logged is the one `auth` maps the call's
// bearer token to, as the handlers do; empty when it maps to none.
// REQUIRES: ValidateAccessLogOptions(options).ok().
std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
MakeRequestLogInterceptors(const AccessLogOptions& options, Logger* logger,
                           TokenAuthenticator* auth);

}  // namespace adaptd::service

#endif  // ADAPTD_SERVER_SERVICE_ACCESS_LOG_H_
