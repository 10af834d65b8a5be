#include "train/evaluate.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>

#include <torch/nn/functional.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/engine/adaptation.h"
#include "server/engine/backbone.h"
#include "server/engine/status_macros.h"
#include "server/engine/torch_util.h"
#include "train/episodes.h"
#include "train/features.h"
#include "train/plot.h"
#include "train/progress.h"

namespace adaptd::train {
namespace {

struct MethodSpec {
  std::string name;
  engine::Method method;
  int steps;
  bool pixels = false;
};

struct Sample {
  double accuracy, adapt_ms, compute_ms, loss_before, loss_after;
};

absl::StatusOr<Sample> RunTask(const EpisodeTensors& task, engine::Method method, int steps, double lr,
                               engine::MetaLearner* meta) {
  engine::AdaptOptions options;
  options.steps = steps;
  options.finetune_lr = lr;
  const auto start = std::chrono::steady_clock::now();
  const double cpu = engine::ThreadCpuSeconds();
  ASSIGN_OR_RETURN(engine::HeadResult head,
                   engine::AdaptHead(method, task.support, task.support_labels, task.ways, meta,
                                     options));
  Sample s;
  s.compute_ms = (engine::ThreadCpuSeconds() - cpu) * 1e3;
  s.adapt_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  torch::NoGradGuard no_grad;
  auto predicted = engine::HeadLogits(task.query, head.weight, head.bias).argmax(1);
  s.accuracy = predicted.eq(task.query_labels).to(torch::kDouble).mean().item<double>();
  s.loss_before = head.loss_before;
  s.loss_after = head.loss_after;
  return s;
}

double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / v.size();
}

double Ci95(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = Mean(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return 1.96 * std::sqrt(ss / (v.size() - 1)) / std::sqrt(static_cast<double>(v.size()));
}

double P95(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(0.95 * (v.size() - 1))];
}

double PeakRssMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

double ModelFinetuneLr(const engine::Backbone& backbone) {
  const double lr = backbone.config().finetune_lr();
  return lr > 0 ? lr : engine::kDefaultInnerLr;
}

}  // namespace

absl::StatusOr<EvalReport> Evaluate(const Dataset& test, const std::vector<CrossDomain>& cross,
                                    const EvalOptions& options) {
  engine::ConfigureTorchThreads(options.threads, 1);
  ASSIGN_OR_RETURN(auto backbone, engine::Backbone::Load(options.model_dir, c10::Device(c10::kCPU)));
  EvalReport report;
  report.finetune_lr = options.finetune_lr > 0 ? options.finetune_lr : ModelFinetuneLr(*backbone);
  engine::MetaLearner* meta = backbone->meta_learner();
  return engine::GuardTorch("eval", [&]() -> absl::StatusOr<EvalReport> {
    const auto embed_start = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(at::Tensor test_features, EmbedDataset(*backbone, test));
    report.backbone_ms_per_image =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - embed_start)
            .count() /
        std::max<int64_t>(1, test.size());
    std::vector<MethodSpec> methods = {{"PIXELS", engine::Method::kPrototype, 0, true},
                                       {"PROTOTYPE", engine::Method::kPrototype, 0},
                                       {"FINETUNE-5", engine::Method::kFinetune, 5},
                                       {"FINETUNE-50", engine::Method::kFinetune, 50}};
    if (meta != nullptr) methods.push_back({"META-5", engine::Method::kMeta, 5});

    struct Domain {
      std::string name;
      const Dataset* data;
      at::Tensor features;
      at::Tensor pixels;
      std::vector<std::pair<int, int>> settings;
    };
    std::vector<Domain> domains = {{"glyphs", &test, test_features, PixelFeatures(test), options.settings}};
    for (const CrossDomain& c : cross) {
      if (c.data.size() == 0) continue;
      ASSIGN_OR_RETURN(at::Tensor features, EmbedDataset(*backbone, c.data));
      domains.push_back({c.name, &c.data, features, PixelFeatures(c.data), options.cross_settings});
    }
    int64_t total = 0;
    for (const auto& d : domains) total += d.settings.size() * methods.size() * options.episodes;
    Progress progress("eval", total);
    int64_t done = 0;
    for (const auto& domain : domains) {
      for (const auto& [ways, shots] : domain.settings) {
        ASSIGN_OR_RETURN(EpisodeSampler sampler,
                         EpisodeSampler::Create(*domain.data, {ways, shots, options.queries,
                                                               options.seed}));
        std::map<std::string, std::vector<double>> accuracies;  // Per method, per episode.
        for (const auto& spec : methods) {
          std::vector<double>& acc = accuracies[spec.name];
          std::vector<double> ms, cpu, before, after;
          for (int e = 0; e < options.episodes; ++e) {
            EpisodeTensors task = GatherEpisode(spec.pixels ? domain.pixels : domain.features, sampler.Sample(e));
            ASSIGN_OR_RETURN(Sample s,
                             RunTask(task, spec.method, spec.steps, report.finetune_lr, meta));
            acc.push_back(s.accuracy);
            ms.push_back(s.adapt_ms);
            cpu.push_back(s.compute_ms);
            before.push_back(s.loss_before);
            after.push_back(s.loss_after);
            if (options.progress) {
              progress.Update(++done, absl::StrCat(domain.name, " ", ways, "-way ", shots,
                                                   "-shot ", spec.name));
            }
          }
          EvalRow row;
          row.domain = domain.name;
          row.method = spec.name;
          row.ways = ways;
          row.shots = shots;
          row.episodes = options.episodes;
          row.accuracy = Mean(acc);
          row.ci95 = Ci95(acc);
          row.adapt_ms_mean = Mean(ms);
          row.adapt_ms_p95 = P95(ms);
          row.compute_ms_mean = Mean(cpu);
          row.loss_before = Mean(before);
          row.loss_after = Mean(after);
          report.rows.push_back(row);
        }
        if (meta == nullptr) continue;
        const std::vector<double>& mine = accuracies[methods.back().name];  // META, added last.
        for (const auto& spec : methods) {
          if (spec.method == engine::Method::kMeta) continue;
          std::vector<double> diff(mine.size());
          for (size_t e = 0; e < mine.size(); ++e) diff[e] = mine[e] - accuracies[spec.name][e];
          report.paired.push_back({domain.name, spec.name, ways, shots, Mean(diff), Ci95(diff)});
        }
      }
    }
    if (options.progress) progress.Finish("done");
    // Accuracy against steps, in-domain 5-way.
    for (int shots : {1, 5}) {
      ASSIGN_OR_RETURN(EpisodeSampler sampler,
                       EpisodeSampler::Create(test, {5, shots, options.queries, options.seed + 1}));
      for (const auto& [name, method] :
           std::vector<std::pair<std::string, engine::Method>>{{"FINETUNE", engine::Method::kFinetune},
                                                               {"META", engine::Method::kMeta}}) {
        if (method == engine::Method::kMeta && meta == nullptr) continue;
        for (int steps : options.curve_steps) {
          std::vector<double> acc;
          for (int e = 0; e < options.curve_episodes; ++e) {
            EpisodeTensors task = GatherEpisode(test_features, sampler.Sample(e));
            ASSIGN_OR_RETURN(Sample s, RunTask(task, steps == 0 ? engine::Method::kPrototype : method,
                                               steps, report.finetune_lr, meta));
            acc.push_back(s.accuracy);
          }
          report.curve.push_back({name, shots, steps, Mean(acc), Ci95(acc)});
        }
      }
    }
    report.peak_rss_mb = PeakRssMb();
    return report;
  });
}

absl::StatusOr<std::vector<std::pair<double, double>>> TuneFinetuneLr(
    const std::vector<Dataset>& val, const std::string& model_dir,
    const std::vector<double>& grid, int episodes, uint64_t seed, double* best) {
  engine::ConfigureTorchThreads(0, 1);
  ASSIGN_OR_RETURN(auto backbone, engine::Backbone::Load(model_dir, c10::Device(c10::kCPU)));
  return engine::GuardTorch("tune", [&]() -> absl::StatusOr<std::vector<std::pair<double, double>>> {
    std::vector<at::Tensor> features;
    std::vector<EpisodeSampler> samplers;  // 1-shot and 5-shot of each set.
    for (const Dataset& set : val) {
      ASSIGN_OR_RETURN(at::Tensor f, EmbedDataset(*backbone, set));
      ASSIGN_OR_RETURN(std::vector<EpisodeSampler> s, SamplersFor(set, {{5, 1}, {5, 5}}, 15, seed));
      for (EpisodeSampler& sampler : s) {
        samplers.push_back(std::move(sampler));
        features.push_back(f);
      }
    }
    std::vector<std::pair<double, double>> results;
    double best_accuracy = -1;
    for (double lr : grid) {
      double sum = 0;
      for (size_t k = 0; k < samplers.size(); ++k) {
        std::vector<double> acc;
        for (int e = 0; e < episodes; ++e) {
          EpisodeTensors task = GatherEpisode(features[k], samplers[k].Sample(e));
          ASSIGN_OR_RETURN(Sample s, RunTask(task, engine::Method::kFinetune, 5, lr, nullptr));
          acc.push_back(s.accuracy);
        }
        sum += Mean(acc);
      }
      const double accuracy = sum / std::max<size_t>(samplers.size(), 1);
      results.emplace_back(lr, accuracy);
      if (accuracy > best_accuracy || (accuracy == best_accuracy && lr < *best)) {
        best_accuracy = accuracy;
        *best = lr;
      }
    }
    return results;
  });
}

absl::Status WriteEvalReport(const EvalReport& report, const std::string& json_path,
                             const std::string& markdown_path, const std::string& plot_path) {
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << "{\n  \"finetune_lr\": " << report.finetune_lr
        << ",\n  \"peak_rss_mb\": " << report.peak_rss_mb
        << ",\n  \"backbone_ms_per_image\": " << report.backbone_ms_per_image << ",\n  \"rows\": [\n";
    for (size_t i = 0; i < report.rows.size(); ++i) {
      const auto& r = report.rows[i];
      out << absl::StrFormat(
          "    {\"domain\": \"%s\", \"method\": \"%s\", \"ways\": %d, \"shots\": %d, "
          "\"episodes\": %d, \"accuracy\": %.5f, \"ci95\": %.5f, \"adapt_ms_mean\": %.4f, "
          "\"adapt_ms_p95\": %.4f, \"compute_ms_mean\": %.4f, \"support_loss_before\": %.5f, "
          "\"support_loss_after\": %.5f}%s\n",
          r.domain, r.method, r.ways, r.shots, r.episodes, r.accuracy, r.ci95, r.adapt_ms_mean,
          r.adapt_ms_p95, r.compute_ms_mean, r.loss_before, r.loss_after,
          i + 1 < report.rows.size() ? "," : "");
    }
    out << "  ],\n  \"meta_minus_baseline\": [\n";
    for (size_t i = 0; i < report.paired.size(); ++i) {
      const auto& p = report.paired[i];
      out << absl::StrFormat(
          "    {\"domain\": \"%s\", \"baseline\": \"%s\", \"ways\": %d, \"shots\": %d, "
          "\"delta\": %.5f, \"ci95\": %.5f}%s\n",
          p.domain, p.baseline, p.ways, p.shots, p.delta, p.ci95,
          i + 1 < report.paired.size() ? "," : "");
    }
    out << "  ],\n  \"curve\": [\n";
    for (size_t i = 0; i < report.curve.size(); ++i) {
      const auto& c = report.curve[i];
      out << absl::StrFormat(
          "    {\"method\": \"%s\", \"shots\": %d, \"steps\": %d, \"accuracy\": %.5f, \"ci95\": "
          "%.5f}%s\n",
          c.method, c.shots, c.steps, c.accuracy, c.ci95, i + 1 < report.curve.size() ? "," : "");
    }
    out << "  ]\n}\n";
    if (!out.flush()) return absl::InternalError(absl::StrCat(json_path, ": write failed"));
  }
  if (!markdown_path.empty()) {
    std::ofstream out(markdown_path);
    out << "| domain | setting | method | accuracy (95% CI) | adapt ms mean / p95 | compute ms "
           "| support loss before -> after |\n|---|---|---|---|---|---|---|\n";
    for (const auto& r : report.rows) {
      out << absl::StrFormat("| %s | %d-way %d-shot | %s | %.2f%% ± %.2f | %.3f / %.3f | %.3f | %.3f -> %.3f |\n",
                             r.domain, r.ways, r.shots, r.method, 100 * r.accuracy, 100 * r.ci95,
                             r.adapt_ms_mean, r.adapt_ms_p95, r.compute_ms_mean, r.loss_before,
                             r.loss_after);
    }
    if (!report.paired.empty()) {
      out << "\nMETA-5 minus each baseline, paired over the same episodes (95% CI); "
             "beyond its CI when the interval excludes 0:\n\n"
             "| domain | setting | baseline | META - baseline |\n|---|---|---|---|\n";
      for (const auto& p : report.paired) {
        out << absl::StrFormat("| %s | %d-way %d-shot | %s | %+.2f ± %.2f points%s |\n", p.domain,
                               p.ways, p.shots, p.baseline, 100 * p.delta, 100 * p.ci95,
                               std::abs(p.delta) > p.ci95 ? (p.delta > 0 ? " (better)" : " (worse)")
                                                          : "");
      }
    }
    out << absl::StrFormat(
        "\nFINETUNE learning rate %.4g; peak RSS %.0f MB; backbone %.3f ms per image "
        "(feature extraction, not in the adapt times above).\n",
        report.finetune_lr, report.peak_rss_mb, report.backbone_ms_per_image);
    if (!out.flush()) return absl::InternalError(absl::StrCat(markdown_path, ": write failed"));
  }
  if (!plot_path.empty() && !report.curve.empty()) {
    std::vector<PlotSeries> series;
    for (const auto& c : report.curve) {
      const std::string name = absl::StrCat(c.method, " ", c.shots, "-shot");
      auto it = std::find_if(series.begin(), series.end(),
                             [&](const PlotSeries& s) { return s.name == name; });
      if (it == series.end()) {
        series.push_back({name, {}, {}});
        it = series.end() - 1;
      }
      it->x.push_back(c.steps);
      it->y.push_back(100 * c.accuracy);
    }
    RETURN_IF_ERROR(WriteLinePlot(plot_path, "5-way accuracy against adaptation steps (glyphs meta-test)",
                                  "adaptation steps", "accuracy %", series));
  }
  return absl::OkStatus();
}

}  // namespace adaptd::train
