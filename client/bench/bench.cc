#include "client/bench/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <memory>
#include <thread>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/bench/latency_histogram.h"
#include "client/bench/synthetic_inputs.h"

namespace adaptd::bench {
namespace {

constexpr char kMissingBackbone[] = "adaptd-bench-no-such-backbone";

// An adapter id and the index of the tenant that owns it.
using TenantAdapter = std::pair<int, std::string>;
// The input pool is kept under this many bytes, whatever the input shape.
constexpr int64_t kPoolBytes = 64 << 20;

enum OpKind { kPredictOp = 0, kAdaptOp = 1, kOpKinds = 2 };
const char* OpName(int op) { return op == kAdaptOp ? "adapt" : "predict"; }

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// Runs `fn` now or, when this thread is already inside RunFlat, once the
// outer call's function returns. A target may run a callback inline, and a
// callback starts the next request, so this keeps the stack flat.
void RunFlat(std::function<void()> fn) {
  thread_local std::deque<std::function<void()>>* pending = nullptr;
  if (pending != nullptr) {
    pending->push_back(std::move(fn));
    return;
  }
  std::deque<std::function<void()>> queue;
  pending = &queue;
  fn();
  while (!queue.empty()) {
    std::function<void()> next = std::move(queue.front());
    queue.pop_front();
    next();
  }
  pending = nullptr;
}

double ProcessCpuSeconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// A uniform double in [0, 1) from a hash.
double UnitInterval(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

// Runs start(0..n-1), at most `parallel` at once, each answering through its
// Done; stops launching after the first error, which it returns. Reports
// "<what>: i/n" through `progress` every `interval`.
absl::Status RunCalls(int n, int parallel, std::function<void(int i, Done done)> start,
                      const std::string& what, const BenchOptions& options) {
  struct State {
    absl::Mutex mu;
    int next ABSL_GUARDED_BY(mu) = 0;
    int launched ABSL_GUARDED_BY(mu) = 0;
    int finished ABSL_GUARDED_BY(mu) = 0;
    absl::Status first_error ABSL_GUARDED_BY(mu);
    std::function<void(int, Done)> start;
    int n = 0;
  };
  auto state = std::make_shared<State>();
  state->start = std::move(start);
  state->n = n;
  // Launches the next call, if any; each answer launches another.
  std::shared_ptr<std::function<void()>> launch = std::make_shared<std::function<void()>>();
  std::weak_ptr<std::function<void()>> weak_launch = launch;
  *launch = [state, weak_launch] {
    int i;
    {
      absl::MutexLock lock(&state->mu);
      if (state->next >= state->n) return;
      i = state->next++;
      ++state->launched;
    }
    auto again = weak_launch.lock();
    state->start(i, [state, again](const absl::Status& status) {
      {
        absl::MutexLock lock(&state->mu);
        ++state->finished;
        if (!status.ok() && state->first_error.ok()) {
          state->first_error = status;
          state->next = state->n;  // Launch no more.
        }
      }
      if (again) RunFlat(*again);
    });
  };
  for (int i = 0; i < std::min(n, std::max(1, parallel)); ++i) RunFlat(*launch);
  absl::MutexLock lock(&state->mu);
  auto all_done = [](State* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
    return s->finished == s->launched && (s->next >= s->n);
  };
  while (!state->mu.AwaitWithTimeout(absl::Condition(+all_done, state.get()),
                                     options.progress_interval)) {
    if (options.progress) {
      const std::string line = absl::StrCat(what, ": ", state->finished, "/", n);
      state->mu.Unlock();
      options.progress(line);
      state->mu.Lock();
    }
  }
  if (options.progress && state->first_error.ok()) {
    options.progress(absl::StrCat(what, ": ", state->finished, "/", n, " done"));
  }
  return state->first_error;
}

LatencySummary Summarize(const LatencyHistogram& h) {
  LatencySummary s;
  s.count = h.count();
  s.p50_ms = Ms(h.Percentile(50));
  s.p90_ms = Ms(h.Percentile(90));
  s.p99_ms = Ms(h.Percentile(99));
  s.max_ms = Ms(h.max());
  s.mean_ms = Ms(h.mean());
  return s;
}

// The task of Adapt number `k`: `ways` consecutive classes of the pool
// from a class drawn by `h`, instances 0..shots-1 of each.
std::vector<SupportExample> Support(const InputPool& pool, int ways, int shots, uint64_t h) {
  std::vector<SupportExample> support;
  support.reserve(static_cast<size_t>(ways) * shots);
  const int first = static_cast<int>(h % static_cast<uint64_t>(pool.classes()));
  for (int w = 0; w < ways; ++w) {
    const int cls = (first + w) % pool.classes();
    for (int s = 0; s < shots; ++s) {
      support.push_back({absl::StrCat("c", cls), &pool.Get(cls, s % pool.instances())});
    }
  }
  return support;
}

// One measured run of the load over fixed adapters. Shared by the callbacks
// of its requests, so it lives until the last of them returns.
class Runner : public std::enable_shared_from_this<Runner> {
 public:
  Runner(const BenchOptions& options, Target& target, const InputPool& pool,
         std::string backbone, const std::vector<std::string>& adapters,
         TenantAdapter deleted_adapter)
      : options_(options),
        target_(target),
        tenants_(target.tenants()),
        pool_(pool),
        backbone_(std::move(backbone)),
        adapters_(adapters),
        deleted_adapter_(std::move(deleted_adapter)) {}

  // Runs warm-up and the measured window, and waits for every request.
  void Run() {
    start_ = absl::Now();
    warm_end_ = start_ + options_.warmup;
    end_ = warm_end_ + options_.duration;
    std::thread scheduler;
    if (open_loop()) {
      scheduler = std::thread([self = shared_from_this()] { self->Schedule(); });
    } else {
      {
        absl::MutexLock lock(&mu_);
        active_ = options_.concurrency;
        scheduler_done_ = true;
      }
      for (int i = 0; i < options_.concurrency; ++i) {
        RunFlat([self = shared_from_this()] { self->Send(self->start_); });
      }
    }
    int64_t last_completed = 0;
    absl::Time last_time = start_;
    while (true) {
      std::string line;
      {
        absl::MutexLock lock(&mu_);
        if (mu_.AwaitWithTimeout(absl::Condition(this, &Runner::AllDone),
                                 options_.progress_interval)) {
          break;
        }
        const absl::Time now = absl::Now();
        const double rps = static_cast<double>(completed_all_ - last_completed) /
                           std::max(1e-9, absl::ToDoubleSeconds(now - last_time));
        last_completed = completed_all_;
        last_time = now;
        line = absl::StrFormat("%-7s %6.1fs/%.1fs  requests %d  rps %.1f  errors %d  in flight %d",
                               now < warm_end_ ? "warmup" : now < end_ ? "measure" : "drain",
                               absl::ToDoubleSeconds(now - start_),
                               absl::ToDoubleSeconds(end_ - start_), completed_all_, rps,
                               errors_all_, outstanding_);
      }
      if (options_.progress) options_.progress(line);
    }
    if (scheduler.joinable()) scheduler.join();
  }

  // After Run: fills the measured part of `report`.
  void Fill(Report& report) {
    absl::MutexLock lock(&mu_);
    const double seconds = absl::ToDoubleSeconds(options_.duration);
    LatencyHistogram all;
    for (int op = 0; op < kOpKinds; ++op) {
      const OpStats& s = ops_[op];
      if (s.requests == 0) continue;
      OpReport r;
      r.op = OpName(op);
      r.requests = s.requests;
      r.ok = s.ok;
      r.errors = s.requests - s.ok;
      r.throughput = static_cast<double>(s.ok) / seconds;
      r.latency = Summarize(s.latency);
      for (const auto& [code, n] : s.codes) {
        r.codes[absl::StatusCodeToString(code)] += n;
        report.codes[absl::StatusCodeToString(code)] += n;
      }
      report.requests += r.requests;
      report.ok += r.ok;
      report.errors += r.errors;
      all.Merge(s.latency);
      report.ops.push_back(std::move(r));
    }
    report.throughput = static_cast<double>(report.ok) / seconds;
    report.latency = Summarize(all);
    report.error_samples = samples_;
    report.skipped = skipped_;
    report.faults_injected = faults_;
  }

  // Adapters made by Adapt requests, for the cleanup.
  std::vector<TenantAdapter> TakeCreated() {
    absl::MutexLock lock(&mu_);
    return std::move(created_);
  }

 private:
  struct OpStats {
    int64_t requests = 0;
    int64_t ok = 0;
    LatencyHistogram latency;  // OK answers only.
    std::map<absl::StatusCode, int64_t> codes;
  };

  bool open_loop() const { return options_.rate > 0; }

  bool AllDone() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return scheduler_done_ && outstanding_ == 0 && active_ == 0;
  }

  // Exactly floor(n * fraction) faults among requests 0..n-1, evenly spread.
  bool IsFault(uint64_t k) const {
    if (options_.fault == Fault::kNone || options_.fault_fraction <= 0) return false;
    const double f = options_.fault_fraction;
    return std::floor(static_cast<double>(k + 1) * f) > std::floor(static_cast<double>(k) * f);
  }

  bool IsAdapt(uint64_t k) const {
    switch (options_.scenario) {
      case Scenario::kPredict: return false;
      case Scenario::kAdapt: return true;
      case Scenario::kMix:
        return UnitInterval(Mix64(options_.seed * 0x2545f4914f6cdd1dULL + k)) <
               options_.adapt_fraction;
    }
    return false;
  }

  // Open loop: sends at the intended times, whatever the answers do.
  void Schedule() {
    uint64_t gaps = Mix64(options_.seed ^ 0x6a09e667f3bcc908ULL);
    const double mean_gap = 1.0 / options_.rate;
    absl::Time next = start_;
    while (next < end_) {
      const absl::Duration wait = next - absl::Now();
      if (wait > absl::Microseconds(50)) absl::SleepFor(wait);
      bool send;
      {
        absl::MutexLock lock(&mu_);
        send = outstanding_ < options_.max_outstanding;
        if (!send && next >= warm_end_) ++skipped_;
      }
      if (send) RunFlat([self = shared_from_this(), next] { self->Send(next); });
      double gap = mean_gap;
      if (options_.arrival == Arrival::kPoisson) {
        gaps = Mix64(gaps);
        gap = -std::log1p(-UnitInterval(gaps)) * mean_gap;
      }
      next += absl::Seconds(gap);
    }
    absl::MutexLock lock(&mu_);
    scheduler_done_ = true;
  }

  // Sends request number seq_++; `intended` is when it should have gone.
  void Send(absl::Time intended) {
    const uint64_t k = seq_.fetch_add(1, std::memory_order_relaxed);
    const bool counted = intended >= warm_end_ && intended < end_;
    const bool fault = IsFault(k);
    const bool adapt = IsAdapt(k);
    {
      absl::MutexLock lock(&mu_);
      ++outstanding_;
      if (counted && fault) ++faults_;
    }
    const uint64_t h = Mix64(options_.seed * 0x9e3779b97f4a7c15ULL + k);
    auto self = shared_from_this();
    if (adapt) {
      AdaptCall call;
      call.tenant = static_cast<int>((h >> 40) % static_cast<uint64_t>(tenants_));
      const bool missing = fault && (options_.fault == Fault::kNotFound ||
                                     options_.fault == Fault::kWrongTenant);
      call.backbone = missing ? kMissingBackbone : backbone_;
      call.support = Support(pool_, options_.ways, options_.shots, h);
      if (fault && options_.fault == Fault::kInvalidArgument) {
        call.support[0].input = &pool_.malformed();
      }
      call.method = options_.method;
      call.steps = options_.steps;
      call.ttl = options_.adapter_ttl;
      call.timeout = options_.timeout;
      target_.Adapt(call, [self, intended, counted, tenant = call.tenant](
                              const absl::Status& status, const std::string& adapter_id) {
        self->Finish(kAdaptOp, intended, counted, status, {tenant, adapter_id});
      });
    } else {
      PredictCall call;
      const size_t a = h % adapters_.size();
      call.adapter_id = adapters_[a];
      call.tenant = static_cast<int>(a % static_cast<size_t>(tenants_));
      if (fault && options_.fault == Fault::kNotFound) {
        std::tie(call.tenant, call.adapter_id) = deleted_adapter_;
      } else if (fault && options_.fault == Fault::kWrongTenant) {
        call.tenant = (call.tenant + 1) % tenants_;
      }
      uint64_t pick = h;
      for (int i = 0; i < options_.batch; ++i) {
        pick = Mix64(pick);
        const int cls = static_cast<int>(pick % static_cast<uint64_t>(pool_.classes()));
        const int instance =
            static_cast<int>((pick >> 32) % static_cast<uint64_t>(pool_.instances()));
        call.inputs.push_back(&pool_.Get(cls, instance));
      }
      if (fault && options_.fault == Fault::kInvalidArgument) call.inputs[0] = &pool_.malformed();
      call.top_k = options_.top_k;
      call.timeout = options_.timeout;
      target_.Predict(call, [self, intended, counted](const absl::Status& status) {
        self->Finish(kPredictOp, intended, counted, status, {});
      });
    }
  }

  void Finish(int op, absl::Time intended, bool counted, const absl::Status& status,
              TenantAdapter created) {
    const absl::Time now = absl::Now();
    bool next = false;
    {
      absl::MutexLock lock(&mu_);
      ++completed_all_;
      if (!status.ok()) ++errors_all_;
      if (status.ok() && !created.second.empty()) created_.push_back(std::move(created));
      if (counted) {
        OpStats& s = ops_[op];
        ++s.requests;
        ++s.codes[status.code()];
        if (status.ok()) {
          ++s.ok;
          s.latency.Record(now - intended);
        } else {
          samples_.emplace(absl::StatusCodeToString(status.code()),
                           std::string(status.message()));
        }
      }
      --outstanding_;
      if (!open_loop()) {
        next = now < end_;
        if (!next) --active_;  // This client is done.
      }
    }
    // Sent as of `now`, which is inside the window, so a closed loop with no
    // warm-up counts every request it sends.
    if (next) RunFlat([self = shared_from_this(), now] { self->Send(now); });
  }

  const BenchOptions& options_;
  Target& target_;
  const int tenants_;
  const InputPool& pool_;
  const std::string backbone_;
  const std::vector<std::string>& adapters_;  // Adapter i is tenant i % tenants_'s.
  const TenantAdapter deleted_adapter_;
  // Set by Run before any request.
  absl::Time start_, warm_end_, end_;
  std::atomic<uint64_t> seq_{0};

  absl::Mutex mu_;
  OpStats ops_[kOpKinds] ABSL_GUARDED_BY(mu_);
  int64_t faults_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t skipped_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::string> samples_ ABSL_GUARDED_BY(mu_);
  std::vector<TenantAdapter> created_ ABSL_GUARDED_BY(mu_);
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t active_ ABSL_GUARDED_BY(mu_) = 0;  // Closed-loop clients still sending.
  bool scheduler_done_ ABSL_GUARDED_BY(mu_) = false;
  // Every answer, warm-up included, for the progress line.
  int64_t completed_all_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t errors_all_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::Status Validate(const BenchOptions& o) {
  auto bad = [](auto... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (o.duration <= absl::ZeroDuration()) return bad("duration: must be positive");
  if (o.warmup < absl::ZeroDuration()) return bad("warmup: must not be negative");
  if (o.timeout <= absl::ZeroDuration()) return bad("timeout: must be positive");
  if (o.rate < 0) return bad("rate: must not be negative, got ", o.rate);
  if (o.rate <= 0 && o.concurrency < 1) return bad("concurrency: must be at least 1");
  if (o.max_outstanding < 1) return bad("max_outstanding: must be at least 1");
  if (o.scenario != Scenario::kAdapt && o.adapters < 1) {
    return bad("adapters: the ", ScenarioName(o.scenario), " scenario needs at least 1");
  }
  if (o.batch < 1) return bad("batch: must be at least 1, got ", o.batch);
  if (o.ways < 1 || o.shots < 1 || o.setup_shots < 1) {
    return bad("ways, shots, setup_shots: must be at least 1");
  }
  if (o.adapt_fraction < 0 || o.adapt_fraction > 1) return bad("adapt_fraction: not in [0,1]");
  if (o.fault_fraction < 0 || o.fault_fraction > 1) return bad("fault_fraction: not in [0,1]");
  if (o.progress_interval <= absl::ZeroDuration()) {
    return bad("progress_interval: must be positive");
  }
  return absl::OkStatus();
}

// Deletes `ids`, best effort: a failure is reported through progress only.
void Cleanup(const std::vector<TenantAdapter>& ids, Target& target,
             const BenchOptions& options) {
  if (ids.empty()) return;
  absl::Status status = RunCalls(
      static_cast<int>(ids.size()), options.concurrency,
      [&ids, &target, &options](int i, Done done) {
        target.DeleteAdapter(ids[i].first, ids[i].second, options.timeout,
                             [done](const absl::Status& s) {
          done(s.ok() || absl::IsNotFound(s) ? absl::OkStatus() : s);  // NOT_FOUND: gone.
        });
      },
      "cleanup: adapters deleted", options);
  if (!status.ok() && options.progress) {
    options.progress(absl::StrCat("cleanup: stopped: ", status.ToString()));
  }
}

}  // namespace

absl::StatusOr<Scenario> ParseScenario(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "predict") return Scenario::kPredict;
  if (n == "adapt") return Scenario::kAdapt;
  if (n == "mix") return Scenario::kMix;
  return absl::InvalidArgumentError(
      absl::StrCat("scenario: expected predict, adapt or mix, got '", name, "'"));
}

absl::StatusOr<Arrival> ParseArrival(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "poisson") return Arrival::kPoisson;
  if (n == "uniform" || n == "fixed") return Arrival::kUniform;
  return absl::InvalidArgumentError(
      absl::StrCat("arrival: expected poisson or uniform, got '", name, "'"));
}

absl::StatusOr<Fault> ParseFault(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n.empty() || n == "none") return Fault::kNone;
  if (n == "not_found") return Fault::kNotFound;
  if (n == "invalid_argument") return Fault::kInvalidArgument;
  if (n == "wrong_tenant") return Fault::kWrongTenant;
  return absl::InvalidArgumentError(absl::StrCat(
      "fault: expected none, not_found, invalid_argument or wrong_tenant, got '", name, "'"));
}

absl::StatusOr<engine::Method> ParseMethod(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n.empty() || n == "unspecified" || n == "default") return engine::Method::kUnspecified;
  if (n == "meta") return engine::Method::kMeta;
  if (n == "finetune") return engine::Method::kFinetune;
  if (n == "prototype") return engine::Method::kPrototype;
  return absl::InvalidArgumentError(
      absl::StrCat("method: expected meta, finetune, prototype or empty, got '", name, "'"));
}

const char* ScenarioName(Scenario scenario) {
  switch (scenario) {
    case Scenario::kPredict: return "predict";
    case Scenario::kAdapt: return "adapt";
    case Scenario::kMix: return "mix";
  }
  return "?";
}

const char* ArrivalName(Arrival arrival) {
  return arrival == Arrival::kPoisson ? "poisson" : "uniform";
}

const char* FaultName(Fault fault) {
  switch (fault) {
    case Fault::kNone: return "none";
    case Fault::kNotFound: return "not_found";
    case Fault::kInvalidArgument: return "invalid_argument";
    case Fault::kWrongTenant: return "wrong_tenant";
  }
  return "?";
}

const char* FaultCode(Fault fault) {
  switch (fault) {
    case Fault::kNone: return "";
    case Fault::kNotFound: return "NOT_FOUND";
    case Fault::kInvalidArgument: return "INVALID_ARGUMENT";
    case Fault::kWrongTenant: return "NOT_FOUND";
  }
  return "";
}

absl::StatusOr<Report> RunBenchmark(const BenchOptions& options, Target& target) {
  if (absl::Status s = Validate(options); !s.ok()) return s;
  auto backbones = target.ListBackbones();
  if (!backbones.ok()) {
    return absl::Status(backbones.status().code(),
                        absl::StrCat("ListBackbones: ", backbones.status().message()));
  }
  const BackboneSpec* spec = nullptr;
  std::vector<std::string> names;
  for (const auto& b : *backbones) {
    names.push_back(b.name);
    if (spec == nullptr && (options.backbone.empty() || b.name == options.backbone)) spec = &b;
  }
  if (spec == nullptr) {
    return absl::NotFoundError(absl::StrCat("backbone '", options.backbone,
                                            "' is not served; there are: ",
                                            names.empty() ? "none" : absl::StrJoin(names, ", ")));
  }
  const auto& shape = spec->input_shape;
  if (shape.size() != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("backbone ", spec->name, ": input shape [", absl::StrJoin(shape, ","),
                     "] is not [C,H,W]"));
  }

  // Every input the run sends, made once. Support sets use instances
  // 0..shots-1 of `ways` consecutive classes; queries any of them.
  const int64_t image_bytes = shape[0] * shape[1] * shape[2];
  const int instances = std::max(options.shots, options.setup_shots) + 2;
  const int classes = static_cast<int>(std::clamp<int64_t>(
      kPoolBytes / (image_bytes * instances), options.ways, 100));
  const InputPool pool(shape, classes, instances, options.seed);

  Report report;
  report.target = target.Describe();
  report.scenario = ScenarioName(options.scenario);
  report.backbone = spec->name;
  report.load = options.rate > 0 ? "open" : "closed";
  report.concurrency = options.rate > 0 ? 0 : options.concurrency;
  report.rate = options.rate;
  report.arrival = options.rate > 0 ? ArrivalName(options.arrival) : "";
  report.adapters = options.scenario == Scenario::kAdapt ? 0 : options.adapters;
  report.batch = options.scenario == Scenario::kAdapt ? 0 : options.batch;
  report.ways = options.ways;
  report.shots = options.shots;
  report.method = options.method == engine::Method::kUnspecified
                      ? "default"
                      : absl::AsciiStrToLower(engine::MethodName(options.method));
  report.adapt_fraction =
      options.scenario == Scenario::kMix ? options.adapt_fraction
      : options.scenario == Scenario::kAdapt ? 1.0 : 0.0;
  report.warmup_s = absl::ToDoubleSeconds(options.warmup);
  report.duration_s = absl::ToDoubleSeconds(options.duration);
  report.fault = FaultName(options.fault);
  report.fault_fraction = options.fault == Fault::kNone ? 0 : options.fault_fraction;
  report.fault_code = FaultCode(options.fault);

  // Setup: the adapters that Predict spreads over, made with PROTOTYPE (no
  // steps, so it is quick), adapter i as tenant i % tenants; for the
  // not_found fault one more, deleted.
  const int tenants = target.tenants();
  report.tenants = tenants;
  if (options.fault == Fault::kWrongTenant && tenants < 2) {
    return absl::InvalidArgumentError(
        "fault: wrong_tenant needs 2 or more tenants (tokens, or --tenants in process)");
  }
  std::vector<std::string> adapters;
  TenantAdapter deleted_adapter;
  auto owned = [&adapters, tenants] {
    std::vector<TenantAdapter> ids;
    for (size_t i = 0; i < adapters.size(); ++i) {
      if (!adapters[i].empty()) ids.emplace_back(static_cast<int>(i % tenants), adapters[i]);
    }
    return ids;
  };
  if (options.scenario != Scenario::kAdapt) {
    const absl::Time setup_start = absl::Now();
    const int wanted = options.adapters + (options.fault == Fault::kNotFound ? 1 : 0);
    adapters.resize(wanted);
    absl::Status status = RunCalls(
        wanted, std::min(options.concurrency, 64),
        [&](int i, Done done) {
          AdaptCall call;
          call.tenant = i % tenants;
          call.backbone = spec->name;
          call.support = Support(pool, options.ways, options.setup_shots,
                                 static_cast<uint64_t>(i) * options.ways);
          call.method = engine::Method::kPrototype;
          call.ttl = options.adapter_ttl;
          call.timeout = options.timeout;
          target.Adapt(call, [&adapters, i, done](const absl::Status& s, const std::string& id) {
            adapters[i] = id;  // Each slot written by one call only.
            done(s);
          });
        },
        absl::StrCat("setup: PROTOTYPE ", options.ways, "-way ", options.setup_shots,
                     "-shot adapters created"),
        options);
    if (!status.ok()) {
      if (options.cleanup) Cleanup(owned(), target, options);
      return absl::Status(status.code(),
                          absl::StrCat("setup: Adapt failed: ", status.message()));
    }
    if (options.fault == Fault::kNotFound) {
      deleted_adapter = {(wanted - 1) % tenants, adapters.back()};
      adapters.pop_back();
      absl::Status deleted = RunCalls(
          1, 1,
          [&](int, Done done) {
            target.DeleteAdapter(deleted_adapter.first, deleted_adapter.second, options.timeout,
                                 done);
          },
          "setup: adapter deleted for the not_found fault", options);
      if (!deleted.ok()) {
        if (options.cleanup) Cleanup(owned(), target, options);
        return absl::Status(deleted.code(),
                            absl::StrCat("setup: DeleteAdapter failed: ", deleted.message()));
      }
    }
    report.setup_s = absl::ToDoubleSeconds(absl::Now() - setup_start);
  }

  auto runner = std::make_shared<Runner>(options, target, pool, spec->name, adapters,
                                         deleted_adapter);
  const double cpu_start = ProcessCpuSeconds();
  const absl::Time wall_start = absl::Now();
  runner->Run();
  report.client_cpu_cores = (ProcessCpuSeconds() - cpu_start) /
                            std::max(1e-9, absl::ToDoubleSeconds(absl::Now() - wall_start));
  runner->Fill(report);

  if (options.cleanup) {
    std::vector<TenantAdapter> ids = runner->TakeCreated();
    for (auto& id : owned()) ids.push_back(std::move(id));
    Cleanup(ids, target, options);
  }
  return report;
}

}  // namespace adaptd::bench
