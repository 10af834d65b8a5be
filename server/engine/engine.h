// The adaptation engine: the backbones, the adapter store and the methods
// behind one narrow API. Knows nothing of gRPC; speaks absl::Status.
// Thread-safe: every method may be called from many threads at once.
//
//   Engine::Options options;
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

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/engine/adapter.h"
#include "server/engine/adapter_persistence.h"
#include "server/engine/adapter_store.h"
#include "server/engine/batcher.h"
#include "server/engine/input_decoder.h"
#include "server/engine/types.h"

namespace adaptd::engine {

class Backbone;

class Engine {
 public:
  struct Options {
    // Folder with one sub-folder per model (see DESIGN.md).
    std::string model_repository = "./models";
    // "cpu", "cuda", "cuda:N"; empty: cuda when available, else cpu.
    std::string device;
    // Mixed precision for backbone forwards: "off" (or empty), "fp16" or
    // "bf16". Adaptation and heads always run in fp32.
    std::string autocast;
    // LibTorch intra-op / inter-op threads; 0: the number of cores.
    int intra_op_threads = 0;
    int inter_op_threads = 0;
    // Largest support set, in examples.
    int max_support_size = 1000;
    // Most distinct labels in one support set.
    int max_classes = 100;
    // Most inputs in one Predict.
    int max_predict_inputs = 1024;
    // Most adaptation steps a request may ask for.
    int max_steps = 500;
    // TTL of an adapter whose request gives none, and the most allowed.
    absl::Duration default_ttl = absl::Hours(24);
    absl::Duration max_ttl = absl::Hours(24 * 30);
    // Limits on decoding images.
    DecodeLimits decode;
    // Bounds, clock, quotas and callbacks of the adapter store. Its
    // persistence, encode and decode are set by the engine from
    // `persistence` unless store.persistence is given.
    AdapterStore::Options store;
    // Where adapters live durably: memory (nowhere), a directory or Redis.
    // A directory is loaded into the store at Create.
    PersistenceOptions persistence;
    // Dynamic batching of backbone passes, one batcher per backbone. Its
    // autocast is set from `autocast`.
    BatchingOptions batching;
    // Called for each model folder that fails to load; it is skipped.
    std::function<void(const std::string& folder, const absl::Status&)> on_model_error;
  };

  struct AdaptRequest {
    std::string backbone;
    std::vector<LabeledInput> support;
    Method method = Method::kUnspecified;
    int steps = 0;                           // 0: the method's default.
    absl::Duration ttl = absl::ZeroDuration();  // 0: default_ttl.
    std::string request_id;                  // Idempotency key, per tenant.
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
  };

  // Loads every model of options.model_repository.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(const Options& options);
  // Serves the given backbones instead of a repository (tests, adapt-train).
  static absl::StatusOr<std::unique_ptr<Engine>> CreateWithBackbones(
      const Options& options, std::vector<std::shared_ptr<Backbone>> backbones);
  ~Engine();

  std::vector<BackboneInfo> ListBackbones() const;
  std::string device() const { return device_; }

  absl::StatusOr<AdapterPtr> Adapt(const AdaptRequest& request, const CallContext& ctx);
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
  void AdaptAsync(const AdaptRequest& request, const CallContext& ctx,
                  const Schedule& schedule, AdaptDone done);
  using PredictDone = std::function<void(absl::StatusOr<PredictResult>)>;
  // Validates and decodes on the calling thread, then queues the backbone
  // pass on the backbone's batcher; `done` runs exactly once, on the calling
  // thread when the request fails early, else on the batcher's thread.
  // `request` may be released once this returns; `ctx` must stay valid until
  // `done` runs.
  void PredictAsync(const PredictRequest& request, const CallContext& ctx, PredictDone done);
  // PredictAsync, waited for.
  absl::StatusOr<PredictResult> Predict(const PredictRequest& request,
                                        const CallContext& ctx);
  absl::StatusOr<AdapterPtr> GetAdapter(const std::string& adapter_id,
                                        const CallContext& ctx);
  absl::StatusOr<AdapterStore::Page> ListAdapters(const std::string& backbone,
                                                  int page_size,
                                                  const std::string& page_token,
                                                  const CallContext& ctx);
  absl::Status DeleteAdapter(const std::string& adapter_id, const CallContext& ctx);

  AdapterStore& store() { return *store_; }

 private:
  struct PendingAdapt;
  Engine(const Options& options, std::unique_ptr<AdapterStore> store);
  // Adapt's three parts: validate and decode; queue the backbone pass;
  // adapt the head on the features and store the adapter.
  absl::StatusOr<std::shared_ptr<PendingAdapt>> PrepareAdapt(const AdaptRequest& request,
                                                             const CallContext& ctx);
  absl::Status SubmitAdapt(const std::shared_ptr<PendingAdapt>& pending, const CallContext& ctx,
                           Batcher::Done done);
  absl::StatusOr<AdapterPtr> FinishAdapt(PendingAdapt& pending, absl::StatusOr<BatchOutput> pass,
                                         const CallContext& ctx);
  // Opens persistence and the adapter store over it, and loads it.
  absl::Status OpenStore();
  absl::StatusOr<std::shared_ptr<Backbone>> FindBackbone(const std::string& name) const;
  std::string NewAdapterId();

  const Options options_;
  std::string device_;
  std::unique_ptr<AdapterStore> store_;
  absl::flat_hash_map<std::string, std::shared_ptr<Backbone>> backbones_;  // Fixed after Create.
  std::vector<std::string> backbone_names_;                                // Sorted.
  // Declared last so that they drain first on destruction.
  absl::flat_hash_map<std::string, std::unique_ptr<Batcher>> batchers_;
  absl::Mutex rng_mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(rng_mu_);
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ENGINE_H_
