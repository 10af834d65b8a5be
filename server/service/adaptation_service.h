// The gRPC adapter for the engine: proto -> engine call -> one status
// mapping -> metrics. Handlers never block gRPC's threads, nor wait on the
// adapter store there: Predict of a cached adapter is queued on the
// backbone's batcher and finished from its thread (an adapter that must be
// read from the store is read on the work queue first); Adapt runs on a
// bounded ThreadPool, and so do Get, List and Delete with a durable store;
// the rest are quick and run inline. Thread-safe.
#ifndef ADAPTD_SERVER_SERVICE_ADAPTATION_SERVICE_H_
#define ADAPTD_SERVER_SERVICE_ADAPTATION_SERVICE_H_

#include <functional>
#include <string>

#include "adaptd/v1/adaptd.grpc.pb.h"
#include "absl/status/status.h"
#include "server/engine/engine.h"
#include "server/common/thread_pool.h"
#include "server/service/auth.h"
#include "server/service/metrics.h"

namespace adaptd::service {

// Adapt and Predict take their requests as wire bytes and parse them
// themselves (request_parser.h), so that a text that is not UTF-8 gets
// INVALID_ARGUMENT naming it instead of gRPC's bare parse failure.
using AdaptationServiceBase = v1::AdaptationService::WithRawCallbackMethod_Adapt<
    v1::AdaptationService::WithRawCallbackMethod_Predict<
        v1::AdaptationService::CallbackService>>;

class AdaptationServiceImpl final : public AdaptationServiceBase {
 public:
  // Not owned; all must outlive the service. `auth` may be null: then every
  // call belongs to the tenant "default".
  AdaptationServiceImpl(engine::Engine* engine, adaptd::ThreadPool* work, Metrics* metrics,
                        TokenAuthenticator* auth);

  grpc::ServerUnaryReactor* ListBackbones(grpc::CallbackServerContext* ctx,
                                          const v1::ListBackbonesRequest* request,
                                          v1::ListBackbonesResponse* response) override;
  // An AdaptRequest in, an AdaptResponse out.
  grpc::ServerUnaryReactor* Adapt(grpc::CallbackServerContext* ctx,
                                  const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  // A PredictRequest in, a PredictResponse out.
  grpc::ServerUnaryReactor* Predict(grpc::CallbackServerContext* ctx,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetAdapter(grpc::CallbackServerContext* ctx,
                                       const v1::GetAdapterRequest* request,
                                       v1::Adapter* response) override;
  grpc::ServerUnaryReactor* ListAdapters(grpc::CallbackServerContext* ctx,
                                         const v1::ListAdaptersRequest* request,
                                         v1::ListAdaptersResponse* response) override;
  grpc::ServerUnaryReactor* DeleteAdapter(grpc::CallbackServerContext* ctx,
                                          const v1::DeleteAdapterRequest* request,
                                          google::protobuf::Empty* response) override;
  // Model control. Loading reads files and runs a probe for seconds, so it
  // runs on the work queue; calls are authenticated like every other.
  grpc::ServerUnaryReactor* LoadModel(grpc::CallbackServerContext* ctx,
                                      const v1::LoadModelRequest* request,
                                      v1::ModelStatus* response) override;
  grpc::ServerUnaryReactor* ReloadModel(grpc::CallbackServerContext* ctx,
                                        const v1::LoadModelRequest* request,
                                        v1::ModelStatus* response) override;
  grpc::ServerUnaryReactor* UnloadModel(grpc::CallbackServerContext* ctx,
                                        const v1::UnloadModelRequest* request,
                                        v1::ModelStatus* response) override;

 private:
  using Finish = std::function<void(const absl::Status&)>;
  using Handler = std::function<void(const engine::CallContext&, Finish)>;
  enum class Where { kInline, kWorkQueue };
  // Starts `handler`, which calls Finish exactly once, from any thread; that
  // finishes the call and counts it. The CallContext lives until then.
  grpc::ServerUnaryReactor* Start(grpc::CallbackServerContext* ctx, const char* rpc, Where where,
                                  Handler handler);
  // For handlers that are done when they return.
  static Handler Sync(std::function<absl::Status(const engine::CallContext&)> body);
  // A model control call whose status becomes `response`.
  static Handler ModelControl(std::function<absl::StatusOr<engine::ModelStatus>()> control,
                              v1::ModelStatus* response);

  engine::Engine* const engine_;
  adaptd::ThreadPool* const work_;
  Metrics* const metrics_;
  TokenAuthenticator* const auth_;
  // Where Get, List and Delete run: inline for the memory store, on the work
  // queue when they may wait on disk or Redis.
  const Where store_calls_;
};

}  // namespace adaptd::service

#endif  // ADAPTD_SERVER_SERVICE_ADAPTATION_SERVICE_H_
