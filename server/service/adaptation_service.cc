#include "server/service/adaptation_service.h"

#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/service/grpc_status.h"
#include "server/service/proto_convert.h"
#include "server/service/request_parser.h"

namespace adaptd::service {
namespace {

bool ContextCancelled(const void* arg) {
  return static_cast<const grpc::CallbackServerContext*>(arg)->IsCancelled();
}

engine::CallContext MakeCallContext(grpc::CallbackServerContext* ctx) {
  engine::CallContext call;
  const auto deadline = ctx->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    call.deadline = absl::FromChrono(deadline);
  }
  call.cancelled = &ContextCancelled;
  call.cancelled_arg = ctx;
  return call;
}

}  // namespace

AdaptationServiceImpl::AdaptationServiceImpl(engine::Engine* engine, adaptd::ThreadPool* work,
                                             Metrics* metrics, TokenAuthenticator* auth)
    : engine_(engine),
      work_(work),
      metrics_(metrics),
      auth_(auth),
      store_calls_(engine->store_info().durable ? Where::kWorkQueue : Where::kInline) {}

grpc::ServerUnaryReactor* AdaptationServiceImpl::Start(grpc::CallbackServerContext* ctx,
                                                       const char* rpc, Where where,
                                                       Handler handler) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  engine::CallContext context = MakeCallContext(ctx);
  absl::Status authenticated = absl::OkStatus();
  if (auth_ != nullptr) {
    const auto& metadata = ctx->client_metadata();
    auto header = metadata.find("authorization");
    absl::string_view value;
    if (header != metadata.end()) value = {header->second.data(), header->second.size()};
    auto tenant = auth_->Authenticate(value);
    if (tenant.ok()) {
      context.tenant = *std::move(tenant);
    } else {
      authenticated = tenant.status();
    }
  }
  auto call = std::make_shared<const engine::CallContext>(std::move(context));
  Finish finish = [this, reactor, rpc, call](const absl::Status& status) {
    grpc::Status grpc_status = ToGrpcStatus(status);
    metrics_->RecordRequest(rpc, GrpcCodeName(grpc_status.error_code()));
    reactor->Finish(grpc_status);
  };
  if (!authenticated.ok()) {
    finish(authenticated);
    return reactor;
  }
  if (where == Where::kInline) {
    handler(*call, std::move(finish));
    return reactor;
  }
  if (!work_->TrySchedule([call, finish, handler = std::move(handler)] { handler(*call, finish); })) {
    finish(absl::ResourceExhaustedError(
        absl::StrCat(rpc, ": server overloaded, the work queue is full; retry with backoff")));
  }
  return reactor;
}

AdaptationServiceImpl::Handler AdaptationServiceImpl::Sync(
    std::function<absl::Status(const engine::CallContext&)> body) {
  return [body = std::move(body)](const engine::CallContext& call, Finish finish) {
    finish(body(call));
  };
}

grpc::ServerUnaryReactor* AdaptationServiceImpl::ListBackbones(
    grpc::CallbackServerContext* ctx, const v1::ListBackbonesRequest*,
    v1::ListBackbonesResponse* response) {
  return Start(ctx, "ListBackbones", Where::kInline,
               Sync([this, response](const engine::CallContext&) {
               for (const auto& info : engine_->ListBackbones()) {
                 ToProto(info, response->add_backbones());
               }
               for (const auto& status : engine_->ListModels()) {
                 ToProto(status, response->add_models());
               }
               return absl::OkStatus();
             }));
}

grpc::ServerUnaryReactor* AdaptationServiceImpl::Adapt(grpc::CallbackServerContext* ctx,
                                                       const grpc::ByteBuffer* wire,
                                                       grpc::ByteBuffer* wire_response) {
  // Parsing, validation and decoding run on the work queue, and so does the
  // head's adaptation once the batcher has the features: no thread waits on
  // the backbone pass, so queued Adapts do not hold the work queue's threads.
  return Start(ctx, "Adapt", Where::kWorkQueue,
               [this, wire, wire_response](const engine::CallContext& call, Finish finish) {
                 v1::AdaptRequest request;
                 absl::Status parsed = ParseRequest(*wire, &request);
                 if (!parsed.ok()) return finish(parsed);
                 engine_->AdaptAsync(
                     FromProto(request), call,
                     [this](std::function<void()> work) {
                       return work_->TrySchedule(std::move(work));
                     },
                     [this, wire_response, tenant = call.tenant,
                      finish = std::move(finish)](absl::StatusOr<engine::AdapterPtr> adapter) {
                       if (!adapter.ok()) return finish(adapter.status());
                       const engine::AdapterInfo& info = (*adapter)->info;
                       v1::AdaptResponse response;
                       ToProto(info, response.mutable_adapter());
                       SerializeResponse(response, wire_response);
                       metrics_->RecordAdapt(info);
                       metrics_->AddCompute(info.stats.device, "Adapt", tenant,
                                            info.stats.compute_seconds);
                       finish(absl::OkStatus());
                     });
               });
}

grpc::ServerUnaryReactor* AdaptationServiceImpl::Predict(grpc::CallbackServerContext* ctx,
                                                         const grpc::ByteBuffer* wire,
                                                         grpc::ByteBuffer* wire_response) {
  return Start(ctx, "Predict", Where::kInline,
               [this, wire, wire_response](const engine::CallContext& call, Finish finish) {
                 const absl::Time start = absl::Now();
                 auto request = std::make_shared<v1::PredictRequest>();
                 absl::Status parsed = ParseRequest(*wire, request.get());
                 if (!parsed.ok()) return finish(parsed);
                 engine::Engine::PredictDone done =
                     [this, wire_response, start, tenant = call.tenant,
                      finish](absl::StatusOr<engine::Engine::PredictResult> result) {
                       if (!result.ok()) return finish(result.status());
                       v1::PredictResponse response;
                       for (const auto& p : result->predictions) {
                         ToProto(p, response.add_predictions());
                       }
                       response.set_truncated_inputs(result->truncated_inputs);
                       SerializeResponse(response, wire_response);
                       metrics_->RecordPredict(result->backbone,
                                               absl::ToDoubleSeconds(absl::Now() - start));
                       metrics_->AddCompute(engine_->device(), "Predict", tenant,
                                            result->compute_seconds);
                       finish(absl::OkStatus());
                     };
                 if (engine_->TryPredictCached(FromProto(*request), call, done)) return;
                 // The adapter must be read from the store first: not on
                 // gRPC's thread, which a hung store would hold. `done` keeps
                 // the call (and `call`) alive until it runs.
                 if (!work_->TrySchedule([this, request, &call, done] {
                       engine_->PredictAsync(FromProto(*request), call, done);
                     })) {
                   finish(absl::ResourceExhaustedError(
                       "Predict: server overloaded, the work queue is full; retry with backoff"));
                 }
               });
}

grpc::ServerUnaryReactor* AdaptationServiceImpl::GetAdapter(
    grpc::CallbackServerContext* ctx, const v1::GetAdapterRequest* request,
    v1::Adapter* response) {
  return Start(ctx, "GetAdapter", store_calls_,
               Sync([this, request, response](const engine::CallContext& call) -> absl::Status {
               auto adapter = engine_->GetAdapter(request->adapter_id(), call);
               if (!adapter.ok()) return adapter.status();
               ToProto((*adapter)->info, response);
               return absl::OkStatus();
             }));
}

grpc::ServerUnaryReactor* AdaptationServiceImpl::ListAdapters(
    grpc::CallbackServerContext* ctx, const v1::ListAdaptersRequest* request,
    v1::ListAdaptersResponse* response) {
  return Start(ctx, "ListAdapters", store_calls_,
               Sync([this, request, response](const engine::CallContext& call) -> absl::Status {
               auto page = engine_->ListAdapters(request->backbone(), request->page_size(),
                                                 request->page_token(), call);
               if (!page.ok()) return page.status();
               for (const auto& adapter : page->adapters) {
                 ToProto(adapter->info, response->add_adapters());
               }
               response->set_next_page_token(page->next_page_token);
               return absl::OkStatus();
             }));
}

grpc::ServerUnaryReactor* AdaptationServiceImpl::DeleteAdapter(
    grpc::CallbackServerContext* ctx, const v1::DeleteAdapterRequest* request,
    google::protobuf::Empty*) {
  return Start(ctx, "DeleteAdapter", store_calls_,
               Sync([this, request](const engine::CallContext& call) {
               return engine_->DeleteAdapter(request->adapter_id(), call);
             }));
}

AdaptationServiceImpl::Handler AdaptationServiceImpl::ModelControl(
    std::function<absl::StatusOr<engine::ModelStatus>()> control, v1::ModelStatus* response) {
  return Sync([control = std::move(control), response](const engine::CallContext&) {
    absl::StatusOr<engine::ModelStatus> status = control();
    if (!status.ok()) return status.status();
    ToProto(*status, response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdaptationServiceImpl::LoadModel(grpc::CallbackServerContext* ctx,
                                                           const v1::LoadModelRequest* request,
                                                           v1::ModelStatus* response) {
  return Start(ctx, "LoadModel", Where::kWorkQueue, ModelControl([this, request] {
                 return engine_->LoadModel(request->model());
               }, response));
}

grpc::ServerUnaryReactor* AdaptationServiceImpl::ReloadModel(grpc::CallbackServerContext* ctx,
                                                             const v1::LoadModelRequest* request,
                                                             v1::ModelStatus* response) {
  return Start(ctx, "ReloadModel", Where::kWorkQueue, ModelControl([this, request] {
                 return engine_->ReloadModel(request->model());
               }, response));
}

grpc::ServerUnaryReactor* AdaptationServiceImpl::UnloadModel(
    grpc::CallbackServerContext* ctx, const v1::UnloadModelRequest* request,
    v1::ModelStatus* response) {
  return Start(ctx, "UnloadModel", Where::kWorkQueue, ModelControl([this, request] {
                 return engine_->UnloadModel(request->model());
               }, response));
}

}  // namespace adaptd::service
