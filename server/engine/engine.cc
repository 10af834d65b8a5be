#include "server/engine/engine.h"

#include <algorithm>

#include <torch/torch.h>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/notification.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "server/common/log.h"
#include "server/common/status_macros.h"
#include "server/engine/adapt/adaptation.h"
#include "server/engine/adapt/adapter_head.h"
#include "server/engine/adapt/adapter_tensors.h"
#include "server/engine/model/backbone.h"
#include "server/engine/batching/batcher.h"
#include "server/engine/input/text_input.h"
#include "server/engine/model_registry.h"
#include "server/engine/runtime/device_scope.h"
#include "server/engine/runtime/torch_util.h"

namespace adaptd::engine {
namespace {

// Bookkeeping bytes of an adapter beyond its tensors and label strings: its
// info, the store's index entries and allocator slack. Measured: 100,000
// 5-way adapters held 900-1,100 bytes each beyond their floats (adaptd with
// jemalloc, docs/experiments/adapter-memory.md).
constexpr int64_t kAdapterOverheadBytes = 1024;

absl::Status CheckCall(const CallContext& ctx, absl::string_view where) {
  if (ctx.IsCancelled()) return absl::CancelledError(absl::StrCat("cancelled ", where));
  if (absl::Now() > ctx.deadline) {
    return absl::DeadlineExceededError(absl::StrCat("deadline exceeded ", where));
  }
  return absl::OkStatus();
}

// A request's inputs decoded into one batch for its backbone, and which of
// them (text only) were truncated.
struct DecodedInputs {
  BackboneInput batch;
  std::vector<bool> truncated;
  int truncated_count = 0;
};

// Decodes images into one [N,C,H,W] float tensor on the CPU, page-locked
// when the backbone is on a GPU so that the batcher's copy is asynchronous.
absl::StatusOr<DecodedInputs> DecodeImages(const std::vector<const InputRef*>& inputs,
                                           const Backbone& backbone, const DecodeLimits& limits,
                                           const std::function<std::string(size_t)>& field) {
  const BackboneInfo& info = backbone.info();
  const auto& s = info.input_shape;
  DecodedInputs out;
  out.truncated.assign(inputs.size(), false);
  ASSIGN_OR_RETURN(
      out.batch.values, GuardTorch("decode", [&]() -> absl::StatusOr<torch::Tensor> {
        return torch::empty({static_cast<int64_t>(inputs.size()), s[0], s[1], s[2]},
                            torch::TensorOptions().pinned_memory(backbone.device().is_cuda()));
      }));
  const int64_t numel = s[0] * s[1] * s[2];
  float* data = out.batch.values.data_ptr<float>();
  for (size_t i = 0; i < inputs.size(); ++i) {
    RETURN_IF_ERROR(DecodeInput(*inputs[i], s, info.preprocessing, limits, field(i),
                                data + static_cast<int64_t>(i) * numel));
  }
  return out;
}

// Tokenizes texts into [N,T] ids and attention mask on the CPU, T the
// longest text's length; the batcher pads further to its length bucket.
absl::StatusOr<DecodedInputs> DecodeTexts(const std::vector<const InputRef*>& inputs,
                                          const Backbone& backbone, const DecodeLimits& limits,
                                          const std::function<std::string(size_t)>& field) {
  const int max_length = backbone.info().text.max_seq_length;
  std::vector<TextEncoding> encodings;
  DecodedInputs out;
  int64_t longest = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ASSIGN_OR_RETURN(TextEncoding e, EncodeTextInput(*inputs[i], *backbone.tokenizer(),
                                                     max_length, limits, field(i)));
    out.truncated.push_back(e.truncated());
    out.truncated_count += e.truncated();
    longest = std::max<int64_t>(longest, static_cast<int64_t>(e.ids.size()));
    encodings.push_back(std::move(e));
  }
  RETURN_IF_ERROR(GuardTorch("tokenized text", [&]() -> absl::Status {
    const int64_t n = static_cast<int64_t>(encodings.size());
    out.batch.values = torch::full({n, longest}, backbone.pad_id(), torch::kLong);
    out.batch.attention_mask = torch::zeros({n, longest}, torch::kLong);
    auto ids = out.batch.values.accessor<int64_t, 2>();
    auto mask = out.batch.attention_mask.accessor<int64_t, 2>();
    for (int64_t i = 0; i < n; ++i) {
      const auto& e = encodings[static_cast<size_t>(i)];
      for (size_t j = 0; j < e.ids.size(); ++j) {
        ids[i][j] = e.ids[j];
        mask[i][j] = 1;
      }
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<DecodedInputs> DecodeBatch(const std::vector<const InputRef*>& inputs,
                                          const Backbone& backbone, const DecodeLimits& limits,
                                          const std::function<std::string(size_t)>& field) {
  return backbone.is_text() ? DecodeTexts(inputs, backbone, limits, field)
                            : DecodeImages(inputs, backbone, limits, field);
}

// Top-k labels and probabilities of one job's rows.
Engine::PredictResult ToPredictions(const Adapter& adapter, const BatchOutput& out, int64_t k,
                                    const std::vector<bool>& truncated) {
  Engine::PredictResult result;
  result.backbone = adapter.info.backbone;
  result.compute_seconds = out.compute_seconds;
  c10::InferenceMode guard;
  auto [values, indices] = out.values.topk(k, 1);
  values = values.cpu();
  indices = indices.cpu();
  auto v = values.accessor<float, 2>();
  auto ix = indices.accessor<int64_t, 2>();
  const auto& labels = adapter.info.labels;
  for (int64_t i = 0; i < values.size(0); ++i) {
    Prediction p;
    for (int64_t j = 0; j < k; ++j) p.scores.push_back({labels[ix[i][j]], v[i][j]});
    p.label = p.scores[0].label;
    p.probability = p.scores[0].probability;
    p.truncated = truncated[static_cast<size_t>(i)];
    result.truncated_inputs += p.truncated;
    result.predictions.push_back(std::move(p));
  }
  return result;
}

// A served backbone's fingerprint differs from the one `adapter` recorded.
bool FittedOnOtherFingerprint(const AdapterInfo& adapter, const BackboneInfo& backbone) {
  return !adapter.backbone_fingerprint.empty() && !backbone.fingerprint.empty() &&
         adapter.backbone_fingerprint != backbone.fingerprint;
}

// "sha256:0123456789abcdef", enough of a fingerprint for a message.
std::string ShortFingerprint(const std::string& fingerprint) {
  return fingerprint.substr(0, std::string("sha256:").size() + 16);
}

}  // namespace

// An Adapt between its validation and its backbone pass: what the head's
// adaptation needs once the features are back.
struct PendingAdapt {
  absl::Time start;
  std::shared_ptr<Backbone> backbone;
  AdapterPtr existing;  // Set when request_id names a stored adapter.
  Method method = Method::kUnspecified;
  AdaptOptions adapt_options;
  BackboneInput batch;
  int truncated_inputs = 0;  // Support texts cut to max_seq_length.
  std::vector<int64_t> targets;
  std::vector<std::string> labels;
  std::string request_id;
  absl::Duration ttl;
  int support_size = 0;
  double backbone_seconds = 0;  // From queueing the pass until its features were back.
};

// A support set's labels in order of first appearance, each example's class
// index, and its inputs.
struct SupportSet {
  std::vector<std::string> labels;
  std::vector<int64_t> targets;
  std::vector<const InputRef*> inputs;
};

class EngineImpl final : public Engine {
 public:
  EngineImpl(const Options& options, std::string device, ModelRegistry::Options registry)
      : options_(options),
        device_(std::move(device)),
        registry_(std::make_unique<ModelRegistry>(std::move(registry))) {}

  ModelRegistry& registry() { return *registry_; }
  // Once the backbones are in: opens the store, then starts polling the
  // model repository if asked to.
  absl::Status Start();

  std::vector<BackboneInfo> ListBackbones() const override;
  std::string device() const override { return device_; }
  StoreInfo store_info() const override;
  absl::StatusOr<AdapterPtr> Adapt(const AdaptRequest& request, const CallContext& ctx) override;
  void AdaptAsync(const AdaptRequest& request, const CallContext& ctx, const Schedule& schedule,
                  AdaptDone done) override;
  void PredictAsync(const PredictRequest& request, const CallContext& ctx,
                    PredictDone done) override;
  bool TryPredictCached(const PredictRequest& request, const CallContext& ctx,
                        const PredictDone& done) override;
  absl::StatusOr<AdapterPtr> GetAdapter(const std::string& adapter_id,
                                        const CallContext& ctx) override;
  absl::StatusOr<AdapterStore::Page> ListAdapters(const std::string& backbone, int page_size,
                                                  const std::string& page_token,
                                                  const CallContext& ctx) override;
  absl::Status DeleteAdapter(const std::string& adapter_id, const CallContext& ctx) override;
  std::vector<ModelStatus> ListModels() const override { return registry_->Statuses(); }
  absl::StatusOr<ModelStatus> LoadModel(const std::string& model) override {
    return registry_->Load(model, /*must_be_loaded=*/false);
  }
  absl::StatusOr<ModelStatus> ReloadModel(const std::string& model) override {
    return registry_->Load(model, /*must_be_loaded=*/true);
  }
  absl::StatusOr<ModelStatus> UnloadModel(const std::string& model) override {
    return registry_->Unload(model);
  }

 private:
  // Adapt's three parts: validate and decode; queue the backbone pass;
  // adapt the head on the features and store the adapter.
  absl::StatusOr<std::shared_ptr<PendingAdapt>> PrepareAdapt(const AdaptRequest& request,
                                                             const ServedModel& model,
                                                             const CallContext& ctx);
  absl::StatusOr<SupportSet> ValidateSupport(const std::vector<LabeledInput>& support) const;
  // The method the request gets and its options: steps, learning rate.
  absl::Status ResolveMethod(const AdaptRequest& request, const Backbone& backbone,
                             PendingAdapt* pending) const;
  absl::Status SubmitAdapt(const std::shared_ptr<PendingAdapt>& pending, Batcher& batcher,
                           const CallContext& ctx, Batcher::Done done);
  absl::StatusOr<AdapterPtr> FinishAdapt(PendingAdapt& pending, absl::StatusOr<BatchOutput> pass,
                                         const CallContext& ctx);
  // Validates, decodes and queues a Predict; `done` runs when its batch has.
  // With `cache_only`, an adapter the store does not cache sets
  // *not_cached and returns OK, queueing nothing: reading it would wait.
  absl::Status StartPredict(const PredictRequest& request, const CallContext& ctx,
                            const PredictDone& done, bool cache_only = false,
                            bool* not_cached = nullptr);
  // Opens persistence and the adapter store over it, and loads it.
  absl::Status OpenStore();
  // FAILED_PRECONDITION if `adapter` was fitted on another fingerprint of
  // `backbone` than the one served (then, with delete_stale_adapters, it is
  // deleted). Adapters or backbones without a fingerprint match.
  absl::Status CheckFitted(const AdapterPtr& adapter, const Backbone& backbone);
  // Counts an adapter fitted on another fingerprint of a served backbone,
  // once per adapter; true the first time.
  bool NoteStale(const AdapterInfo& info);
  // Deletes the stale adapters found while the store loaded, when asked to.
  void DeleteStaleFoundAtLoad();
  std::string NewAdapterId();

  const Options options_;
  const std::string device_;
  std::unique_ptr<AdapterStore> store_;
  absl::Mutex rng_mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(rng_mu_);
  absl::Mutex stale_mu_;
  absl::flat_hash_set<std::string> stale_seen_ ABSL_GUARDED_BY(stale_mu_);  // Adapter ids.
  // With delete_stale_adapters: (adapter id, tenant) found stale while the
  // store loaded, deleted once it has.
  std::vector<std::pair<std::string, std::string>> stale_at_load_ ABSL_GUARDED_BY(stale_mu_);
  bool store_loaded_ ABSL_GUARDED_BY(stale_mu_) = false;
  // Declared last so that the models' batchers drain first on destruction,
  // while the store their callbacks use is still there.
  std::unique_ptr<ModelRegistry> registry_;
};

// Validates the options and builds an engine whose registry reads
// `repository` (empty: none); its backbones are added next, then Start().
static absl::StatusOr<std::unique_ptr<EngineImpl>> NewEngine(const Engine::Options& options,
                                                             const std::string& repository) {
  if (options.max_support_size < 2 || options.max_classes < 2 ||
      options.max_predict_inputs < 1 || options.max_steps < 0) {
    return absl::InvalidArgumentError(
        "limits: max_support_size and max_classes must be at least 2, max_predict_inputs "
        "at least 1");
  }
  if (options.default_ttl <= absl::ZeroDuration() || options.max_ttl < options.default_ttl) {
    return absl::InvalidArgumentError("default_ttl must be positive and at most max_ttl");
  }
  if (options.model_poll_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("model_poll_interval: must not be negative");
  }
  ModelRegistry::Options registry;
  registry.repository = repository;
  ASSIGN_OR_RETURN(registry.device, ParseDevice(options.device));
  registry.batching = options.batching;
  ASSIGN_OR_RETURN(registry.batching.autocast, ParseAutocast(options.autocast));
  registry.on_error = options.on_model_error;
  registry.on_status = options.on_model_status;
  const std::string device = registry.device.str();
  return std::make_unique<EngineImpl>(options, device, std::move(registry));
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const Options& options) {
  ConfigureTorchThreads(options.intra_op_threads, options.inter_op_threads);
  ASSIGN_OR_RETURN(std::unique_ptr<EngineImpl> engine,
                   NewEngine(options, options.model_repository));
  RETURN_IF_ERROR(engine->registry().LoadRepository());
  RETURN_IF_ERROR(engine->Start());
  return engine;
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::CreateWithBackbones(
    const Options& options, std::vector<std::shared_ptr<Backbone>> backbones) {
  ASSIGN_OR_RETURN(std::unique_ptr<EngineImpl> engine, NewEngine(options, ""));
  for (auto& backbone : backbones) {
    const std::string name = backbone->info().name;
    absl::Status added = engine->registry().AddInMemory(std::move(backbone));
    if (!added.ok() && options.on_model_error) options.on_model_error(name, added);
  }
  RETURN_IF_ERROR(engine->Start());
  return engine;
}

absl::Status EngineImpl::Start() {
  RETURN_IF_ERROR(OpenStore());
  DeleteStaleFoundAtLoad();
  if (options_.model_poll_interval > absl::ZeroDuration() && !options_.model_repository.empty()) {
    registry_->StartPolling(options_.model_poll_interval);
  }
  return absl::OkStatus();
}

absl::Status EngineImpl::OpenStore() {
  AdapterStore::Options store = options_.store;
  if (!store.on_error) store.on_error = options_.persistence.on_error;
  if (!store.on_error) {
    store.on_error = [](const absl::Status& status) {
      ProcessLogger().Error("adapter store error", {{"error", status.message()}});
    };
  }
  if (!store.persistence) {
    ASSIGN_OR_RETURN(store.persistence, OpenAdapterPersistence(options_.persistence, store.clock));
  }
  if (store.persistence) {
    // Stored heads come back on the device of their backbone.
    store.encode = [](const Adapter& adapter) { return EncodeAdapter(adapter); };
    store.decode = [this](absl::string_view bytes) -> absl::StatusOr<AdapterPtr> {
      std::shared_ptr<Backbone> backbone;
      ASSIGN_OR_RETURN(
          AdapterPtr adapter,
          DecodeAdapter(bytes, [&](const std::string& name) -> absl::StatusOr<c10::Device> {
            absl::StatusOr<ServedModelPtr> model = registry_->Find(name);
            if (!model.ok()) {
              return absl::FailedPreconditionError(
                  absl::StrCat("its backbone \"", name, "\" is not loaded here"));
            }
            backbone = (*model)->backbone;
            return backbone->device();
          }));
      // Counted when found; refused when used (CheckFitted).
      if (FittedOnOtherFingerprint(adapter->info, backbone->info())) NoteStale(adapter->info);
      return adapter;
    };
  }
  ASSIGN_OR_RETURN(store_, AdapterStore::Create(store));
  return store_->LoadFromPersistence().status();
}

Engine::StoreInfo EngineImpl::store_info() const {
  StoreInfo info;
  info.adapters = store_->size();
  info.bytes = store_->bytes();
  const AdapterPersistence* persistence = store_->persistence();
  info.durable = persistence != nullptr;
  info.description = persistence != nullptr ? persistence->Describe() : "memory only";
  info.healthy = persistence == nullptr || persistence->healthy();
  return info;
}

std::vector<BackboneInfo> EngineImpl::ListBackbones() const { return registry_->Backbones(); }

bool EngineImpl::NoteStale(const AdapterInfo& info) {
  {
    absl::MutexLock lock(&stale_mu_);
    if (!stale_seen_.insert(info.adapter_id).second) return false;
    if (options_.delete_stale_adapters && !store_loaded_) {
      stale_at_load_.emplace_back(info.adapter_id, info.tenant);
    }
  }
  if (options_.on_stale_adapter) options_.on_stale_adapter(info);
  return true;
}

void EngineImpl::DeleteStaleFoundAtLoad() {
  std::vector<std::pair<std::string, std::string>> stale;
  {
    absl::MutexLock lock(&stale_mu_);
    store_loaded_ = true;
    stale.swap(stale_at_load_);
  }
  for (const auto& [adapter_id, tenant] : stale) {
    absl::Status deleted = store_->Delete(adapter_id, tenant);
    const auto& report =
        options_.store.on_error ? options_.store.on_error : options_.persistence.on_error;
    if (!deleted.ok() && !absl::IsNotFound(deleted) && report) report(deleted);
  }
}

absl::Status EngineImpl::CheckFitted(const AdapterPtr& adapter, const Backbone& backbone) {
  const AdapterInfo& info = adapter->info;
  if (!FittedOnOtherFingerprint(info, backbone.info())) return absl::OkStatus();
  NoteStale(info);
  if (options_.delete_stale_adapters) {
    // Best effort: the answer is the same either way, and a later Predict
    // gets NOT_FOUND.
    store_->Delete(info.adapter_id, info.tenant).IgnoreError();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "adapter_id: adapter \"", info.adapter_id, "\" was fitted on backbone \"", info.backbone,
      "\" with fingerprint ", ShortFingerprint(info.backbone_fingerprint),
      ", and the backbone has changed since (now ", ShortFingerprint(backbone.info().fingerprint),
      "); its head does not fit the new features: call Adapt again with the support set to "
      "get a new adapter"));
}

std::string EngineImpl::NewAdapterId() {
  absl::MutexLock lock(&rng_mu_);
  return absl::StrFormat("ad_%016x%016x", absl::Uniform<uint64_t>(rng_),
                         absl::Uniform<uint64_t>(rng_));
}

absl::StatusOr<SupportSet> EngineImpl::ValidateSupport(
    const std::vector<LabeledInput>& support) const {
  if (support.empty()) return absl::InvalidArgumentError("support: is empty");
  if (static_cast<int>(support.size()) > options_.max_support_size) {
    return absl::InvalidArgumentError(absl::StrCat("support: ", support.size(),
                                                   " examples exceeds the limit of ",
                                                   options_.max_support_size));
  }
  SupportSet set;
  absl::flat_hash_map<std::string, int64_t> label_index;
  for (size_t i = 0; i < support.size(); ++i) {
    if (support[i].label.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("support[", i, "].label: is empty"));
    }
    auto [it, added] =
        label_index.emplace(support[i].label, static_cast<int64_t>(set.labels.size()));
    if (added) {
      if (static_cast<int>(set.labels.size()) == options_.max_classes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "support: more than ", options_.max_classes, " distinct labels (the limit)"));
      }
      set.labels.push_back(support[i].label);
    }
    set.targets.push_back(it->second);
    set.inputs.push_back(&support[i].input);
  }
  if (set.labels.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("support: needs at least 2 distinct labels, got ", set.labels.size()));
  }
  return set;
}

absl::Status EngineImpl::ResolveMethod(const AdaptRequest& request, const Backbone& backbone,
                                       PendingAdapt* pending) const {
  const Method method =
      request.method == Method::kUnspecified ? backbone.info().default_method : request.method;
  if (method != Method::kMeta && method != Method::kFinetune && method != Method::kPrototype) {
    return absl::InvalidArgumentError(
        absl::StrCat("method: unknown method ", static_cast<int>(request.method)));
  }
  if (method == Method::kMeta && !backbone.has_meta_learner()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "method: backbone \"", request.backbone,
        "\" has no meta-learner; use FINETUNE or PROTOTYPE, or train one with "
        "adapt-train metatrain"));
  }
  if (request.steps < 0 || request.steps > options_.max_steps) {
    return absl::InvalidArgumentError(absl::StrCat("steps: must be in [0, ", options_.max_steps,
                                                   "], got ", request.steps));
  }
  if (request.ttl < absl::ZeroDuration() || request.ttl > options_.max_ttl) {
    return absl::InvalidArgumentError(absl::StrCat("ttl: must be in [0, ",
                                                   absl::FormatDuration(options_.max_ttl),
                                                   "], got ", absl::FormatDuration(request.ttl)));
  }
  const auto& config = backbone.config();
  AdaptOptions& adapt_options = pending->adapt_options;
  const int config_steps = method == Method::kMeta ? config.meta_steps() : config.finetune_steps();
  adapt_options.steps =
      request.steps > 0 ? request.steps : (config_steps > 0 ? config_steps : kDefaultSteps);
  if (config.finetune_lr() > 0) adapt_options.finetune_lr = config.finetune_lr();
  pending->method = method;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<PendingAdapt>> EngineImpl::PrepareAdapt(
    const AdaptRequest& request, const ServedModel& model, const CallContext& ctx) {
  auto pending = std::make_shared<PendingAdapt>();
  pending->start = absl::Now();
  std::shared_ptr<Backbone> backbone = model.backbone;
  pending->existing = store_->FindByRequestId(ctx.tenant, request.request_id);
  if (pending->existing) return pending;
  ASSIGN_OR_RETURN(SupportSet support, ValidateSupport(request.support));
  RETURN_IF_ERROR(ResolveMethod(request, *backbone, pending.get()));
  ASSIGN_OR_RETURN(DecodedInputs decoded,
                   DecodeBatch(support.inputs, *backbone, options_.decode, [](size_t i) {
                     return absl::StrCat("support[", i, "].input");
                   }));
  pending->batch = std::move(decoded.batch);
  pending->truncated_inputs = decoded.truncated_count;
  RETURN_IF_ERROR(CheckCall(ctx, "before the backbone pass"));
  pending->backbone = std::move(backbone);
  pending->targets = std::move(support.targets);
  pending->labels = std::move(support.labels);
  pending->request_id = request.request_id;
  pending->ttl = request.ttl;
  pending->support_size = static_cast<int>(request.support.size());
  return pending;
}

absl::StatusOr<AdapterPtr> EngineImpl::FinishAdapt(PendingAdapt& p,
                                                    absl::StatusOr<BatchOutput> pass,
                                                    const CallContext& ctx) {
  RETURN_IF_ERROR(pass.status());
  auto adapter = std::make_shared<Adapter>();
  AdapterInfo& info = adapter->info;
  std::shared_ptr<AdapterHead> head;
  info.stats.backbone_seconds = p.backbone_seconds;
  p.adapt_options.check = [&ctx] { return CheckCall(ctx, "during adaptation"); };
  // `pass` outlives the scope: its features were made on the batcher's
  // stream and are read on this one until Finish.
  DeviceScope scope(p.backbone->device());
  RETURN_IF_ERROR(GuardTorch("adapt", [&]() -> absl::Status {
    auto target = torch::tensor(p.targets, torch::kLong).to(p.backbone->device());
    ASSIGN_OR_RETURN(HeadResult result, AdaptHead(p.method, pass->values, target,
                                                  static_cast<int64_t>(p.labels.size()),
                                                  p.backbone->meta_learner(), p.adapt_options));
    head = std::make_shared<AdapterHead>(result.weight, result.bias);
    info.stats.steps = result.steps;
    info.stats.support_loss_before = result.loss_before;
    info.stats.support_loss_after = result.loss_after;
    return absl::OkStatus();
  }));
  info.stats.compute_seconds = scope.Finish() + pass->compute_seconds;
  info.stats.device = p.backbone->info().device;
  info.stats.truncated_inputs = p.truncated_inputs;
  info.adapter_id = NewAdapterId();
  info.tenant = ctx.tenant;
  info.request_id = p.request_id;
  info.backbone = p.backbone->info().name;
  info.backbone_fingerprint = p.backbone->info().fingerprint;
  info.method = p.method;
  info.support_size = p.support_size;
  info.labels = std::move(p.labels);
  info.size_bytes = head->TensorBytes() + kAdapterOverheadBytes;
  for (const auto& label : info.labels) info.size_bytes += static_cast<int64_t>(label.size());
  info.create_time = options_.store.clock->Now();
  info.expire_time =
      info.create_time + (p.ttl > absl::ZeroDuration() ? p.ttl : options_.default_ttl);
  adapter->head = std::move(head);
  info.stats.adapt_seconds = absl::ToDoubleSeconds(absl::Now() - p.start);
  // Idempotent: a concurrent call with the same request_id may have won.
  // Bounded by the call's deadline, which is checked again after the write.
  return store_->InsertIdempotent(std::move(adapter), ctx);
}

absl::Status EngineImpl::SubmitAdapt(const std::shared_ptr<PendingAdapt>& p, Batcher& batcher,
                                     const CallContext& ctx, Batcher::Done done) {
  // Urgent: the caller waits on it before more work, so it goes ahead of
  // queued Predicts and does not wait for a batch to fill.
  return batcher.Submit(
      std::move(p->batch), nullptr, &ctx,
      [p, submitted = absl::Now(), done = std::move(done)](absl::StatusOr<BatchOutput> out) {
        p->backbone_seconds = absl::ToDoubleSeconds(absl::Now() - submitted);
        done(std::move(out));
      },
      Priority::kUrgent);
}

absl::StatusOr<AdapterPtr> EngineImpl::Adapt(const AdaptRequest& request,
                                             const CallContext& ctx) {
  ASSIGN_OR_RETURN(ServedModelPtr model, registry_->Find(request.backbone));
  ASSIGN_OR_RETURN(std::shared_ptr<PendingAdapt> pending, PrepareAdapt(request, *model, ctx));
  if (pending->existing) return pending->existing;
  absl::StatusOr<BatchOutput> pass = absl::UnknownError("not run");
  absl::Notification passed;
  RETURN_IF_ERROR(SubmitAdapt(pending, *model->batcher, ctx, [&](absl::StatusOr<BatchOutput> out) {
    pass = std::move(out);
    passed.Notify();
  }));
  passed.WaitForNotification();
  return FinishAdapt(*pending, std::move(pass), ctx);
}

void EngineImpl::AdaptAsync(const AdaptRequest& request, const CallContext& ctx,
                            const Schedule& schedule, AdaptDone done) {
  // Held by this call only, never by the callbacks (see ServedModel).
  absl::StatusOr<ServedModelPtr> model = registry_->Find(request.backbone);
  if (!model.ok()) return done(model.status());
  absl::StatusOr<std::shared_ptr<PendingAdapt>> pending = PrepareAdapt(request, **model, ctx);
  if (!pending.ok()) return done(pending.status());
  if ((*pending)->existing) return done((*pending)->existing);
  auto on_pass = [this, p = *pending, &ctx, schedule, done](absl::StatusOr<BatchOutput> out) {
    const bool scheduled = schedule([this, p, &ctx, done, out = std::move(out)]() mutable {
      done(FinishAdapt(*p, std::move(out), ctx));
    });
    if (!scheduled) {
      done(absl::ResourceExhaustedError(
          "Adapt: server overloaded, the work queue is full; retry with backoff"));
    }
  };
  absl::Status submitted = SubmitAdapt(*pending, *(*model)->batcher, ctx, std::move(on_pass));
  if (!submitted.ok()) done(submitted);
}

absl::Status EngineImpl::StartPredict(const PredictRequest& request, const CallContext& ctx,
                                      const PredictDone& done, bool cache_only,
                                      bool* not_cached) {
  if (request.adapter_id.empty()) return absl::InvalidArgumentError("adapter_id: is empty");
  if (request.inputs.empty()) return absl::InvalidArgumentError("inputs: is empty");
  if (static_cast<int>(request.inputs.size()) > options_.max_predict_inputs) {
    return absl::InvalidArgumentError(absl::StrCat("inputs: ", request.inputs.size(),
                                                   " inputs exceeds the limit of ",
                                                   options_.max_predict_inputs));
  }
  if (request.top_k < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k: must not be negative, got ", request.top_k));
  }
  // A cached adapter is used without waiting on persistence (it is
  // confirmed in the background), so Predicts go on through a store outage.
  ASSIGN_OR_RETURN(AdapterPtr adapter, store_->GetCached(request.adapter_id, ctx.tenant));
  if (adapter == nullptr) {
    if (cache_only) {
      *not_cached = true;
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(adapter, store_->Get(request.adapter_id, ctx.tenant));
  }
  // Held by this call only, never by the callback (see ServedModel).
  ASSIGN_OR_RETURN(ServedModelPtr model, registry_->Find(adapter->info.backbone));
  const Backbone* backbone = model->backbone.get();
  if (cache_only && options_.delete_stale_adapters && store_->persistence() != nullptr &&
      FittedOnOtherFingerprint(adapter->info, backbone->info())) {
    *not_cached = true;  // Deleting it waits on persistence: not on this thread.
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(CheckFitted(adapter, *backbone));
  std::vector<const InputRef*> inputs;
  for (const auto& input : request.inputs) inputs.push_back(&input);
  ASSIGN_OR_RETURN(DecodedInputs decoded,
                   DecodeBatch(inputs, *backbone, options_.decode,
                               [](size_t i) { return absl::StrCat("inputs[", i, "]"); }));
  const int64_t classes = static_cast<int64_t>(adapter->info.labels.size());
  const int64_t k = request.top_k == 0 ? classes : std::min<int64_t>(request.top_k, classes);
  auto head = adapter->head;
  return model->batcher->Submit(
      std::move(decoded.batch), std::move(head), &ctx,
      [adapter = std::move(adapter), k, truncated = std::move(decoded.truncated),
       done](absl::StatusOr<BatchOutput> out) {
        if (!out.ok()) return done(out.status());
        done(GuardTorch("predict", [&]() -> absl::StatusOr<PredictResult> {
          return ToPredictions(*adapter, *out, k, truncated);
        }));
      });
}

void EngineImpl::PredictAsync(const PredictRequest& request, const CallContext& ctx,
                              PredictDone done) {
  absl::Status status = StartPredict(request, ctx, done);
  if (!status.ok()) done(status);
}

bool EngineImpl::TryPredictCached(const PredictRequest& request, const CallContext& ctx,
                                  const PredictDone& done) {
  bool not_cached = false;
  absl::Status status = StartPredict(request, ctx, done, /*cache_only=*/true, &not_cached);
  if (not_cached) return false;
  if (!status.ok()) done(status);
  return true;
}

absl::StatusOr<Engine::PredictResult> Engine::Predict(const PredictRequest& request,
                                                      const CallContext& ctx) {
  absl::StatusOr<PredictResult> result = absl::UnknownError("not run");
  absl::Notification finished;
  PredictAsync(request, ctx, [&](absl::StatusOr<PredictResult> r) {
    result = std::move(r);
    finished.Notify();
  });
  finished.WaitForNotification();
  return result;
}

absl::StatusOr<AdapterPtr> EngineImpl::GetAdapter(const std::string& adapter_id,
                                                  const CallContext& ctx) {
  if (adapter_id.empty()) return absl::InvalidArgumentError("adapter_id: is empty");
  return store_->Get(adapter_id, ctx.tenant);
}

absl::StatusOr<AdapterStore::Page> EngineImpl::ListAdapters(const std::string& backbone,
                                                            int page_size,
                                                            const std::string& page_token,
                                                            const CallContext& ctx) {
  return store_->List(ctx.tenant, backbone, page_size, page_token);
}

absl::Status EngineImpl::DeleteAdapter(const std::string& adapter_id,
                                       const CallContext& ctx) {
  if (adapter_id.empty()) return absl::InvalidArgumentError("adapter_id: is empty");
  return store_->Delete(adapter_id, ctx.tenant);
}

}  // namespace adaptd::engine
