#include "client/bench/engine_target.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/common/thread_pool.h"
#include "server/engine/engine.h"

namespace adaptd::bench {
namespace {

engine::InputRef ToInputRef(const Input& input) {
  engine::InputRef ref;
  ref.data = input.data;
  if (input.kind == Input::Kind::kText) {
    ref.kind = engine::InputRef::Kind::kText;
    return ref;
  }
  ref.kind = engine::InputRef::Kind::kTensor;
  ref.shape = input.shape;
  ref.dtype = engine::DType::kUint8;
  return ref;
}

class EngineTarget final : public Target {
 public:
  EngineTarget(std::unique_ptr<engine::Engine> owned, engine::Engine* engine,
               const EngineTargetOptions& options)
      : owned_(std::move(owned)),
        engine_(engine),
        pool_(std::make_unique<ThreadPool>(ThreadPool::Options{std::max(1, options.threads)})) {
    if (options.tenants <= 1) {
      tenants_.push_back("default");
    } else {
      for (int i = 0; i < options.tenants; ++i) {
        tenants_.push_back(absl::StrCat("bench-tenant-", i));
      }
    }
  }

  ~EngineTarget() override { pool_.reset(); }  // Before the engine goes.

  std::string Describe() const override { return absl::StrCat("inprocess ", engine_->device()); }

  // The pool has no bound and stops only when this target goes, when no
  // caller is left: it never refuses, so every `done` runs.
  void Schedule(std::function<void()> work) {
    const bool queued = pool_->TrySchedule(std::move(work));
    assert(queued);
    (void)queued;
  }
  int tenants() const override { return static_cast<int>(tenants_.size()); }

  absl::StatusOr<std::vector<BackboneSpec>> ListBackbones() override {
    std::vector<BackboneSpec> out;
    for (const auto& info : engine_->ListBackbones()) {
      out.push_back({info.name, info.modality, info.input_shape, info.methods});
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
    Schedule([this, request = std::move(request), ctx, done = std::move(done)] {
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
    for (const Input* input : call.inputs) request.inputs.push_back(ToInputRef(*input));
    // PredictAsync needs the context until `done`, so it lives beside it.
    auto ctx = std::make_shared<const engine::CallContext>(Context(call.tenant, call.timeout));
    Schedule([this, request = std::move(request), ctx, done = std::move(done)]() mutable {
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
    Schedule([this, adapter_id, ctx, done = std::move(done)] {
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
  engine::EngineOptions o = options.engine;
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
