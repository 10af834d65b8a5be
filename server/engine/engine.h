// The adaptation engine: the backbones, the adapter store and the methods
// behind one narrow API. Knows nothing of gRPC; speaks absl::Status. This
// header carries no LibTorch: the implementation lives in engine.cc.
// Thread-safe: every method may be called from many threads at once.
//
//   EngineOptions options;
//   options.model_repository = "./models";
//   ASSIGN_OR_RETURN(auto engine, Engine::Create(options));
//   ASSIGN_OR_RETURN(AdapterPtr adapter, engine->Adapt(request, ctx));
#ifndef ADAPTD_SERVER_ENGINE_ENGINE_H_
#define ADAPTD_SERVER_ENGINE_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/engine/base/adapter.h"
#include "server/engine/base/types.h"
#include "server/engine/engine_options.h"
#include "server/engine/store/adapter_store.h"

namespace adaptd::engine {

class Backbone;

class Engine {
 public:
  using Options = EngineOptions;

  struct AdaptRequest {
    std::string backbone;
    std::vector<LabeledInput> support;
    Method method = Method::kUnspecified;
    int steps = 0;                              // 0: the method's default.
    absl::Duration ttl = absl::ZeroDuration();  // 0: default_ttl.
    std::string request_id;                     // Idempotency key, per tenant.
  };

  struct PredictRequest {
    std::string adapter_id;
    std::vector<InputRef> inputs;
    int top_k = 0;  // 0: every class.
  };

  struct PredictResult {
    std::vector<Prediction> predictions;
    std::string backbone;
    double compute_seconds = 0;
    int truncated_inputs = 0;  // Input texts cut to the backbone's max_seq_length.
  };

  // What the adapter store holds and where it keeps it.
  struct StoreInfo {
    int64_t adapters = 0;  // In memory now.
    int64_t bytes = 0;     // Their size_bytes.
    // Whether adapters are also written to durable persistence; store calls
    // then wait on I/O and belong off latency-sensitive threads.
    bool durable = false;
    std::string description;  // "memory only", "directory /var/...", "redis ...".
    // False while persistence fails fast after failures (Redis down or not
    // answering); cached adapters are still served.
    bool healthy = true;
  };

  // Loads every model of options.model_repository.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(const Options& options);
  // Serves the given backbones instead of a repository (tests, adapt-train).
  static absl::StatusOr<std::unique_ptr<Engine>> CreateWithBackbones(
      const Options& options, std::vector<std::shared_ptr<Backbone>> backbones);
  virtual ~Engine() = default;

  virtual std::vector<BackboneInfo> ListBackbones() const = 0;
  // The device backbones run on, e.g. "cpu" or "cuda:0".
  virtual std::string device() const = 0;
  virtual StoreInfo store_info() const = 0;

  virtual absl::StatusOr<AdapterPtr> Adapt(const AdaptRequest& request,
                                           const CallContext& ctx) = 0;
  using AdaptDone = std::function<void(absl::StatusOr<AdapterPtr>)>;
  // Runs `work` on some thread later; false if it cannot be queued.
  using Schedule = std::function<bool(std::function<void()> work)>;
  // Adapt without a thread waiting on the backbone pass: validates and
  // decodes on the calling thread, queues the pass (ahead of Predicts), and
  // when the features are back hands the head's adaptation and storing to
  // `schedule` (a work queue). `done` runs exactly once: on the calling
  // thread when the request fails early or is a repeat of a request_id,
  // else on a thread of `schedule` (or the batcher's, with
  // RESOURCE_EXHAUSTED, when `schedule` refuses). `request` may be released
  // once this returns; `ctx` must stay valid until `done` runs.
  virtual void AdaptAsync(const AdaptRequest& request, const CallContext& ctx,
                          const Schedule& schedule, AdaptDone done) = 0;
  using PredictDone = std::function<void(absl::StatusOr<PredictResult>)>;
  // Validates and decodes on the calling thread, then queues the backbone
  // pass on the backbone's batcher; `done` runs exactly once, on the calling
  // thread when the request fails early, else on the batcher's thread. An
  // adapter fitted on another fingerprint of its backbone than the one now
  // served is FAILED_PRECONDITION (EngineOptions::delete_stale_adapters).
  // `request` may be released once this returns; `ctx` must stay valid until
  // `done` runs.
  virtual void PredictAsync(const PredictRequest& request, const CallContext& ctx,
                            PredictDone done) = 0;
  // PredictAsync for threads that must not wait on the adapter store
  // (gRPC's): false, without calling `done`, when the adapter is not cached
  // and must first be read from persistence (or, with
  // delete_stale_adapters, is stale and must be deleted there); then call
  // PredictAsync from a thread that may wait. Else as PredictAsync, and true.
  virtual bool TryPredictCached(const PredictRequest& request, const CallContext& ctx,
                                const PredictDone& done) = 0;
  // PredictAsync, waited for.
  absl::StatusOr<PredictResult> Predict(const PredictRequest& request, const CallContext& ctx);
  virtual absl::StatusOr<AdapterPtr> GetAdapter(const std::string& adapter_id,
                                                const CallContext& ctx) = 0;
  virtual absl::StatusOr<AdapterStore::Page> ListAdapters(const std::string& backbone,
                                                          int page_size,
                                                          const std::string& page_token,
                                                          const CallContext& ctx) = 0;
  virtual absl::Status DeleteAdapter(const std::string& adapter_id, const CallContext& ctx) = 0;

  // Model control. `model` names a folder of the model repository.
  // Every folder known, loaded or not, by folder name.
  virtual std::vector<ModelStatus> ListModels() const = 0;
  // Loads `model`, or reloads it if it is loaded: the new backbone replaces
  // the old one atomically (calls in flight finish on the old one). On
  // failure what served keeps serving, and the error names the folder.
  virtual absl::StatusOr<ModelStatus> LoadModel(const std::string& model) = 0;
  // LoadModel; FAILED_PRECONDITION if `model` is not loaded.
  virtual absl::StatusOr<ModelStatus> ReloadModel(const std::string& model) = 0;
  // Stops serving `model`'s backbone; its adapters stay stored. NOT_FOUND
  // if it is not loaded.
  virtual absl::StatusOr<ModelStatus> UnloadModel(const std::string& model) = 0;
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ENGINE_H_
