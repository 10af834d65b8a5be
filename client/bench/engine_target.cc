#include "client/bench/engine_target.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/engine/engine.h"

namespace adaptd::bench {
namespace {

engine::InputRef ToInputRef(const Tensor& tensor) {
  engine::InputRef ref;
  ref.kind = engine::InputRef::Kind::kTensor;
  ref.shape = tensor.shape;
  ref.dtype = engine::DType::kUint8;
  ref.data = tensor.data;
  return ref;
}

// A fixed set of threads running queued closures; the destructor runs what
// is queued, then joins.
class ThreadPool {
 public:
  explicit ThreadPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~ThreadPool() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    for (auto& t : threads_) t.join();
  }
  void Schedule(std::function<void()> fn) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(fn));
  }

 private:
  void Work() {
    while (true) {
      std::function<void()> fn;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](ThreadPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
              return p->stopping_ || !p->queue_.empty();
            },
            this));
        if (queue_.empty()) return;  // Stopping, and nothing left.
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

class EngineTarget final : public Target {
 public:
  EngineTarget(std::unique_ptr<engine::Engine> owned, engine::Engine* engine,
               const EngineTargetOptions& options)
      : owned_(std::move(owned)),
        engine_(engine),
        pool_(std::make_unique<ThreadPool>(std::max(1, options.threads))) {
    if (options.tenants <= 1) {
      tenants_.push_back("default");
    } else {
      for (int i = 0; i < options.tenants; ++i) tenants_.push_back(absl::StrCat("bench-tenant-", i));
    }
  }

  ~EngineTarget() override { pool_.reset(); }  // Before the engine goes.

  std::string Describe() const override { return absl::StrCat("inprocess ", engine_->device()); }
  int tenants() const override { return static_cast<int>(tenants_.size()); }

  absl::StatusOr<std::vector<BackboneSpec>> ListBackbones() override {
    std::vector<BackboneSpec> out;
    for (const auto& info : engine_->ListBackbones()) {
      out.push_back({info.name, info.input_shape, info.methods});
    }
    return out;
  }

  void Adapt(const AdaptCall& call, AdaptDone done) override {
    engine::Engine::AdaptRequest request;
    request.backbone = call.backbone;
    request.method = call.method;
    request.steps = call.steps;
    request.ttl = call.ttl;
    request.support.reserve(call.support.size());
    for (const auto& example : call.support) {
      request.support.push_back({example.label, ToInputRef(*example.input)});
    }
    const engine::CallContext ctx = Context(call.tenant, call.timeout);
    pool_->Schedule([this, request = std::move(request), ctx, done = std::move(done)] {
      auto adapter = engine_->Adapt(request, ctx);
      if (!adapter.ok()) {
        done(adapter.status(), "");
      } else {
        done(absl::OkStatus(), (*adapter)->info.adapter_id);
      }
    });
  }

  void Predict(const PredictCall& call, Done done) override {
    engine::Engine::PredictRequest request;
    request.adapter_id = call.adapter_id;
    request.top_k = call.top_k;
    request.inputs.reserve(call.inputs.size());
    for (const Tensor* input : call.inputs) request.inputs.push_back(ToInputRef(*input));
    // PredictAsync needs the context until `done`, so it lives beside it.
    auto ctx = std::make_shared<const engine::CallContext>(Context(call.tenant, call.timeout));
    pool_->Schedule([this, request = std::move(request), ctx, done = std::move(done)]() mutable {
      engine_->PredictAsync(request, *ctx,
                            [ctx, done = std::move(done)](
                                absl::StatusOr<engine::Engine::PredictResult> result) {
                              done(result.status());
                            });
    });
  }

  void DeleteAdapter(int tenant, const std::string& adapter_id, absl::Duration timeout,
                     Done done) override {
    const engine::CallContext ctx = Context(tenant, timeout);
    pool_->Schedule([this, adapter_id, ctx, done = std::move(done)] {
      done(engine_->DeleteAdapter(adapter_id, ctx));
    });
  }

 private:
  engine::CallContext Context(int tenant, absl::Duration timeout) const {
    engine::CallContext ctx;
    ctx.tenant = tenants_[static_cast<size_t>(tenant) % tenants_.size()];
    if (timeout != absl::InfiniteDuration()) ctx.deadline = absl::Now() + timeout;
    return ctx;
  }

  std::unique_ptr<engine::Engine> owned_;  // May be null.
  engine::Engine* const engine_;
  std::vector<std::string> tenants_;  // Fixed.
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> NewEngineTarget(const EngineTargetOptions& options) {
  engine::Engine::Options o;
  o.model_repository = options.model_repository;
  o.device = options.device;
  o.autocast = options.autocast;
  o.intra_op_threads = options.intra_op_threads;
  o.inter_op_threads = options.inter_op_threads;
  if (options.max_batch_size > 0) o.batching.max_batch_size = options.max_batch_size;
  o.batching.workers = options.batch_workers;
  if (options.max_batch_delay >= absl::ZeroDuration()) {
    o.batching.max_delay = options.max_batch_delay;
  }
  o.on_model_error = [](const std::string& folder, const absl::Status& status) {
    std::fprintf(stderr, "adaptd-bench: skipping model %s: %s\n", folder.c_str(),
                 std::string(status.message()).c_str());
  };
  auto engine = engine::Engine::Create(o);
  if (!engine.ok()) return engine.status();
  engine::Engine* raw = engine->get();
  return std::unique_ptr<Target>(new EngineTarget(*std::move(engine), raw, options));
}

std::unique_ptr<Target> NewEngineTarget(engine::Engine* engine,
                                        const EngineTargetOptions& options) {
  return std::make_unique<EngineTarget>(nullptr, engine, options);
}

}  // namespace adaptd::bench
