// Few-shot evaluation of the adaptation methods on held-out tasks, using
// exactly the engine code adaptd serves with (engine::AdaptHead on features
// from engine::Backbone). No LibTorch in this header.
#ifndef ADAPTD_TRAIN_EVALUATE_H_
#define ADAPTD_TRAIN_EVALUATE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "train/dataset.h"
#include "train/episodes.h"

namespace adaptd::train {

struct EvalOptions {
  // The model folder to evaluate (its meta-learner, if any, is META).
  std::string model_dir;
  // The in-domain set's name in the report.
  std::string data_name = "glyphs";
  // In-domain (ways, shots) settings.
  std::vector<std::pair<int, int>> settings = {{5, 1}, {5, 5}, {20, 1}, {20, 5}};
  // Cross-domain settings (Fashion-MNIST and the rest).
  std::vector<std::pair<int, int>> cross_settings = {{5, 1}, {5, 5}};
  int episodes = 600;
  int queries = 15;
  uint64_t seed = 1;
  int threads = 0;
  // Where the backbone runs and every method adapts, PIXELS included:
  // "cpu", "cuda" or "cuda:N" (ParseTrainDevice).
  std::string device = "cpu";
  // FINETUNE's learning rate; 0: the model's finetune_lr, else 0.01.
  double finetune_lr = 0;
  // Accuracy against adaptation steps (5-way 1-shot and 5-shot, in-domain)
  // for FINETUNE and META, over `curve_episodes` episodes.
  std::vector<int> curve_steps = {0, 1, 2, 3, 5, 10, 20, 50};
  int curve_episodes = 200;
  bool progress = true;
  // Text models: the texts TF-IDF's document frequencies are fitted on
  // (--data's meta-train split; empty: plain term frequencies). Every text
  // domain gets a TF-IDF nearest-centroid row, in PIXELS' place, scored on
  // the same episodes as the methods.
  Dataset tfidf_fit;
};

struct EvalRow {
  std::string domain;  // EvalOptions::data_name (in-domain) or a CrossDomain's name.
  std::string method;  // PIXELS or TF-IDF, PROTOTYPE, FINETUNE-5, FINETUNE-50, META-5.
  int ways = 0, shots = 0, episodes = 0;
  double accuracy = 0, ci95 = 0;
  double adapt_ms_mean = 0, adapt_ms_p95 = 0;  // AdaptHead wall time.
  double compute_ms_mean = 0;                  // AdaptHead thread CPU time.
  double loss_before = 0, loss_after = 0;      // Mean support loss.
};

// META's accuracy minus a baseline's on the same episodes: the paired
// difference and its 95% CI, far tighter than comparing two rows' CIs.
struct PairedDelta {
  std::string domain, baseline;
  int ways = 0, shots = 0;
  double delta = 0, ci95 = 0;
};

// On a text domain, a method's accuracy minus TF-IDF nearest centroid's,
// paired over the same episodes, as PairedDelta.
struct TfIdfDelta {
  std::string domain, method;
  int ways = 0, shots = 0;
  double delta = 0, ci95 = 0;
};

struct CurvePoint {
  std::string method;  // FINETUNE or META.
  int shots = 0;
  int steps = 0;
  double accuracy = 0, ci95 = 0;
};

struct EvalReport {
  std::vector<EvalRow> rows;
  std::vector<PairedDelta> paired;  // META against each of the other methods.
  std::vector<TfIdfDelta> minus_tfidf;  // Text domains: each method against TF-IDF.
  std::vector<CurvePoint> curve;
  double finetune_lr = 0;
  double peak_rss_mb = 0;
  double backbone_ms_per_image = 0;  // Feature extraction, for context.
};

// A cross-domain data set and the name its rows carry.
struct CrossDomain {
  std::string name;  // "fashion-mnist", "clipart:groups", ...
  Dataset data;
};

// `test` is the in-domain meta-test split; `cross` may be empty.
// FAILED_PRECONDITION, before any work, for a CUDA device this LibTorch
// cannot use. On a GPU, compute_ms_mean is the adapting thread's CPU time
// alone.
absl::StatusOr<EvalReport> Evaluate(const Dataset& test, const std::vector<CrossDomain>& cross,
                                    const EvalOptions& options);

// One episode as eval scores PROTOTYPE on it.
struct EpisodePrediction {
  Episode episode;  // Its classes, support and query images, and their episode labels.
  // Per query, in episode.query's order: the episode label with the highest logit, and the
  // softmax of the logits over the episode labels (the probabilities adaptd's Predict
  // returns for an adapter made from the same support set).
  std::vector<int32_t> predicted;
  std::vector<std::vector<float>> probabilities;
};

// PROTOTYPE's answers on episodes 0..episodes-1 drawn from `data` with
// `options`, computed as eval computes its PROTOTYPE rows: the same
// features, episodes and head. Runs on the CPU with the process's LibTorch
// thread settings. FAILED_PRECONDITION when the images do not fit the model;
// INVALID_ARGUMENT when `data` cannot serve `options`.
absl::StatusOr<std::vector<EpisodePrediction>> PrototypePredictions(
    const std::string& model_dir, const Dataset& data, const EpisodeOptions& options,
    int episodes);

// A rate whose next larger rate on the grid loses more than this on
// meta-val sits at the edge of divergence.
inline constexpr double kRateCliff = 0.01;

// The rate of the best (lr, accuracy) pair, the smallest on a tie, or the
// next smaller rate on the grid where the best is at the edge of
// divergence (kRateCliff).
// Measured: the text model's FINETUNE-5 at 0.1, best on WordNet meta-val
// but with 0.3 6 points lower, fell 6 points below PROTOTYPE on software
// descriptions, where 0.03 (0.06 lower on meta-val) gained 1.
double StableBestRate(const std::vector<std::pair<double, double>>& results);

// Picks FINETUNE's learning rate on meta-val: StableBestRate of the 5-step
// accuracy over 5-way 1-shot and 5-shot episodes of each of `val` (the mean
// over sets), among `grid`. Runs on `device` ("cpu", "cuda" or "cuda:N").
// Returns (lr, accuracy) pairs in grid order and sets *best.
absl::StatusOr<std::vector<std::pair<double, double>>> TuneFinetuneLr(
    const std::vector<Dataset>& val, const std::string& model_dir,
    const std::vector<double>& grid, int episodes, uint64_t seed, const std::string& device,
    double* best);

// Which method a model should serve when a request names none, decided on
// meta-val: META only when it beats both PROTOTYPE and FINETUNE-5 by more
// than the 95% confidence interval of the paired difference (episode by
// episode, pooled over every set and its 5-way 1-shot and 5-shot tasks),
// and the meta-learner is not worth shipping otherwise; else FINETUNE only
// when it beats PROTOTYPE so; else PROTOTYPE.
struct MethodChoice {
  double prototype = 0, finetune = 0, meta = 0;  // Meta-val accuracy; meta 0 without one.
  bool has_meta = false;
  // META less each baseline, mean and 95% CI half-width over paired episodes.
  double meta_vs_prototype = 0, meta_vs_prototype_ci = 0;
  double meta_vs_finetune = 0, meta_vs_finetune_ci = 0;
  // FINETUNE-5 less PROTOTYPE, likewise.
  double finetune_vs_prototype = 0, finetune_vs_prototype_ci = 0;
  int episodes = 0;  // Paired episodes, all sets and settings.
  bool keep_meta = false;
  std::string default_method;  // "meta", "finetune" or "prototype".
  std::string reason;          // One line with the figures, for model.pbtxt.
};

// Scores the folder's methods (its finetune_lr; META with its meta-learner
// when it has one) on `episodes` episodes of each setting of each of `val`.
absl::StatusOr<MethodChoice> ChooseDefaultMethod(const std::vector<Dataset>& val,
                                                 const std::string& model_dir, int episodes,
                                                 uint64_t seed, const std::string& device);

// The report as Markdown: a table of the rows, META's paired differences
// and the run's figures.
std::string EvalMarkdown(const EvalReport& report);

// Writes the report as JSON (NaN as null), Markdown (EvalMarkdown) and a PNG
// plot of the curve; an empty path skips that file. Each file is written
// atomically, its folders made as needed.
absl::Status WriteEvalReport(const EvalReport& report, const std::string& json_path,
                             const std::string& markdown_path, const std::string& plot_path);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_EVALUATE_H_
