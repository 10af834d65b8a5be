// The gRPC target: adaptd's AdaptationService over one or more channels, with
// the callback client API, so any number of requests can be in flight
// without a thread each. Thread-safe.
//
//   GrpcTargetOptions options;
//   options.target = "localhost:50051";
//   ASSIGN_OR_RETURN(std::unique_ptr<Target> target, NewGrpcTarget(options));
#ifndef ADAPTD_CLIENT_BENCH_GRPC_TARGET_H_
#define ADAPTD_CLIENT_BENCH_GRPC_TARGET_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "client/bench/target.h"

namespace adaptd::bench {

struct GrpcTargetOptions {
  // adaptd's address, host:port.
  std::string target = "localhost:50051";
  // HTTP/2 connections to spread the requests over, round robin.
  int channels = 1;
  // Bearer tokens, one per tenant: tenant i sends "authorization: Bearer
  // tokens[i]". Empty: one tenant, no header (adaptd without auth).
  std::vector<std::string> tokens;
  // TLS: on when `tls` or any file is set. The CA file verifies the server
  // (empty: the system roots); cert and key files are the client's, for mTLS.
  bool tls = false;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
};

// Fails only when a TLS file cannot be read; connecting happens on first use.
absl::StatusOr<std::unique_ptr<Target>> NewGrpcTarget(const GrpcTargetOptions& options);

// Over channels made elsewhere (tests). REQUIRES: !channels.empty().
std::unique_ptr<Target> NewGrpcTarget(std::vector<std::shared_ptr<grpc::Channel>> channels,
                                      std::string description,
                                      std::vector<std::string> tokens = {});

}  // namespace adaptd::bench

#endif  // ADAPTD_CLIENT_BENCH_GRPC_TARGET_H_
