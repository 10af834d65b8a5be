// What adaptctl (client/commands.cc) and adaptd-bench's gRPC target both
// need to talk to adaptd: statuses back from gRPC, protobuf durations, and
// reading the PEM files of a TLS channel. Header-only, so that the two
// libraries share it without linking each other. Pure functions.
#ifndef ADAPTD_CLIENT_GRPC_UTIL_H_
#define ADAPTD_CLIENT_GRPC_UTIL_H_

#include <cstdint>
#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "server/common/file_util.h"

namespace adaptd::client {

// gRPC and Abseil share the canonical code numbers.
inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

inline google::protobuf::Duration ToProtoDuration(absl::Duration duration) {
  google::protobuf::Duration proto;
  absl::Duration nanos;
  proto.set_seconds(absl::IDivDuration(duration, absl::Seconds(1), &nanos));
  proto.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(nanos)));
  return proto;
}

// The whole of the file at `path`, for a PEM certificate or key; an error
// names `what`, the flag that gave the path (NOT_FOUND "<what>: cannot open
// <path>: ..." when it is missing).
inline absl::StatusOr<std::string> ReadPemFile(absl::string_view what, const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) {
    return absl::Status(contents.status().code(),
                        absl::StrCat(what, ": ", contents.status().message()));
  }
  return contents;
}

}  // namespace adaptd::client

#endif  // ADAPTD_CLIENT_GRPC_UTIL_H_
