// adapt-train: builds data sets, pretrains backbones and exports model
// folders for adaptd. One binary with subcommands; `adapt-train help` lists
// them and `adapt-train <command> --help` explains one.
#include <cstdio>
#include <fstream>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/engine/status_macros.h"
#include "train/clipart.h"
#include "train/data.h"
#include "train/export.h"
#include "train/evaluate.h"
#include "train/metatrain.h"
#include "train/glyphs.h"
#include "train/pretrain.h"
#include "train/progress.h"

// Shared.
ABSL_FLAG(std::string, out, "", "Output file or folder (each command says which; most have a default).");
ABSL_FLAG(std::string, data, "data/glyphs.bin",
          "A data set cache written by `adapt-train data ...`. Wherever a cache is named, "
          "FILE:groups means its groups as classes (data/clipart.bin:groups: clip-art "
          "categories, one drawing per image).");
ABSL_FLAG(std::string, extra_data, "",
          "More caches, comma-separated, whose meta-train classes (all classes when unsplit) "
          "join training, e.g. data/clipart.bin: pretrain adds them to its classifier, "
          "metatrain draws tasks from each cache in turn.");
ABSL_FLAG(std::string, val_data, "",
          "metatrain, tune-finetune: more caches, comma-separated, whose meta-val splits join "
          "--data's in choosing the meta-learner kept or FINETUNE's rate, e.g. "
          "data/clipart.bin:groups.");
ABSL_FLAG(std::string, cross_data, "",
          "eval: more cross-domain caches, comma-separated, evaluated 5-way on their meta-test "
          "splits beside Fashion-MNIST, e.g. data/clipart.bin:groups.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed; the same seed gives the same result.");
ABSL_FLAG(int, threads, 0, "Worker threads (FreeType rendering, LibTorch intra-op); 0 for one per core.");

// data glyphs.
ABSL_FLAG(std::string, font_dir, "/usr/share/fonts", "Folder searched recursively for .ttf/.otf/.ttc fonts.");
ABSL_FLAG(int, instances, 20, "Images rendered per character.");
ABSL_FLAG(int, clipart_instances, 10, "data clipart: renders per drawing.");
ABSL_FLAG(int, max_images, 0, "data clipart: at most this many drawings (seeded choice); 0: all.");
ABSL_FLAG(int, category_depth, 2,
          "data clipart: a drawing's category is the folder this many levels below --root.");
ABSL_FLAG(int, max_classes_per_script, 40, "Characters kept per script (a seeded choice when a script has more).");
ABSL_FLAG(int, min_classes_per_script, 14, "Scripts with fewer usable characters are left out.");
ABSL_FLAG(int, max_scripts, 0, "Use at most this many scripts (a seeded choice); 0 for all.");
ABSL_FLAG(double, elastic_rms, 0.6, "Elastic distortion: RMS displacement in pixels (scaled per image by 0.5-1.5).");
ABSL_FLAG(double, max_rotation, 12, "Largest random rotation, in degrees.");
ABSL_FLAG(bool, force, false, "Rebuild the cache even if it is up to date.");
ABSL_FLAG(std::string, preview, "", "Also write a PNG grid of some classes here.");

// Splits.
ABSL_FLAG(double, train_fraction, 0.6, "Share of classes (whole groups) for meta-train.");
ABSL_FLAG(double, val_fraction, 0.15, "Share of classes (whole groups) for meta-val; the rest is meta-test.");
ABSL_FLAG(uint64_t, split_seed, 1, "Seed of the split by group (kept apart from --seed on purpose).");

// data omniglot / data folders.
ABSL_FLAG(std::string, root, "", "Data root: Omniglot's <alphabet>/<character>/*.png (several roots comma-separated) or <class>/*.{png,jpg}.");
ABSL_FLAG(int, max_per_class, 0, "Read at most this many images per class; 0 for all.");

// data preview.
ABSL_FLAG(std::string, groups, "", "Comma-separated group (script) names to show; empty for a spread of all.");
ABSL_FLAG(int, rows, 40, "Classes (rows) in the preview grid.");
ABSL_FLAG(int, per_row, 20, "Images per row in the preview grid.");

// pretrain.
ABSL_FLAG(std::string, arch, "conv4", "Native backbone architecture: conv4 or resnet12.");
ABSL_FLAG(int, epochs, 50, "Training epochs over the meta-train classes.");
ABSL_FLAG(int, batch_size, 64, "Images per step.");
ABSL_FLAG(double, lr, 1e-3, "Adam learning rate.");
ABSL_FLAG(double, weight_decay, 1e-4, "L2 penalty (Adam weight decay).");
ABSL_FLAG(double, dropout, 0.5, "Dropout on the features, before the classifier.");
ABSL_FLAG(int, max_shift, 2, "Augmentation: random shifts of up to this many pixels.");
ABSL_FLAG(std::string, work_dir, "data/pretrain-conv4", "Checkpoints, the final backbone.pt and report.json go here.");
ABSL_FLAG(bool, resume, false, "Continue from work_dir/checkpoint.pt after an interrupt.");
ABSL_FLAG(int64_t, max_steps, 0, "Stop after this many steps in all; 0 to run every epoch.");
ABSL_FLAG(double, checkpoint_seconds, 120, "Also checkpoint this often within an epoch.");
ABSL_FLAG(int, eval_episodes, 600, "Few-shot episodes per setting for the PROTOTYPE evaluation; 0 skips it.");

// export.
ABSL_FLAG(std::string, weights, "data/pretrain-conv4/backbone.pt", "Backbone weights written by pretrain.");
ABSL_FLAG(std::string, meta_learner, "", "Optional meta-learner file to ship with the model.");
ABSL_FLAG(std::string, name, "glyphs-conv4", "Model name in model.pbtxt (what clients ask for).");

// fashion-mnist-png.
ABSL_FLAG(std::string, fashion_dir, adaptd::train::kFashionMnistDir, "Folder with Fashion-MNIST's IDX .gz files.");
ABSL_FLAG(std::string, classes, "t-shirt,trouser,sandal,bag,ankle-boot", "Comma-separated Fashion-MNIST class names (or 'all').");
ABSL_FLAG(int, per_class, 5, "PNGs written per class.");
ABSL_FLAG(int, offset, 0, "Skip this many test images of each class first (so support and query sets differ).");

// proto-eval.
ABSL_FLAG(std::string, model, "models/glyphs-conv4", "A model folder (model.pbtxt + weights).");
ABSL_FLAG(std::string, split, "test", "Which split of --data to evaluate on: train, val, test or all.");
ABSL_FLAG(std::string, ways, "5", "Comma-separated ways to evaluate, e.g. 5,20.");
ABSL_FLAG(std::string, shots, "1,5", "Comma-separated shots to evaluate.");
ABSL_FLAG(int, episodes, 600, "Episodes per setting.");
ABSL_FLAG(int, queries, 15, "Query images per class in each episode.");

// metatrain.
ABSL_FLAG(std::string, meta_work_dir, "data/metatrain",
          "metatrain: checkpoints, the best meta_learner.pt and report.json go here.");
ABSL_FLAG(int, meta_steps, 10000, "metatrain: meta-training steps.");
ABSL_FLAG(int, meta_batch, 32, "metatrain: tasks per meta step.");
ABSL_FLAG(double, meta_lr, 1e-4, "metatrain: Adam learning rate of the meta-learner.");
ABSL_FLAG(double, inner_lr, 0.01,
          "metatrain: the untrained meta-learner's step size (it starts as SGD at this rate).");
ABSL_FLAG(int, inner_steps, 5, "metatrain: adaptation steps unrolled per task.");
ABSL_FLAG(bool, first_order, false,
          "metatrain: do not differentiate through the inner gradients (faster, cruder).");
ABSL_FLAG(std::string, settings, "5x1,5x5,20x1,20x5",
          "metatrain: WAYSxSHOTS task settings drawn uniformly for training.");
ABSL_FLAG(int, val_every, 250, "metatrain: meta-val check every this many steps (0: never).");
ABSL_FLAG(int, val_episodes, 200, "metatrain, tune-finetune: meta-val episodes per check.");

// tune-finetune, eval.
ABSL_FLAG(std::string, lr_grid, "0.003,0.01,0.03,0.1,0.3,1",
          "tune-finetune: FINETUNE learning rates to try on meta-val.");
ABSL_FLAG(double, finetune_lr, 0,
          "export: FINETUNE's learning rate written to model.pbtxt (0: leave the default). "
          "eval: FINETUNE's rate (0: the model's).");
ABSL_FLAG(int, curve_episodes, 200, "eval: episodes per point of the accuracy-vs-steps curve.");
ABSL_FLAG(std::string, report, "docs/eval/glyphs-conv4",
          "eval: writes REPORT.json, REPORT.md and REPORT.png.");

namespace adaptd::train {
namespace {
namespace fs = std::filesystem;

// ---- Helpers ---------------------------------------------------------------

std::string OutOr(const std::string& fallback) {
  const std::string out = absl::GetFlag(FLAGS_out);
  return out.empty() ? fallback : out;
}

SplitOptions SplitFlags() {
  SplitOptions s;
  s.train_fraction = absl::GetFlag(FLAGS_train_fraction);
  s.val_fraction = absl::GetFlag(FLAGS_val_fraction);
  s.seed = absl::GetFlag(FLAGS_split_seed);
  return s;
}

void PrintSummary(const Dataset& data) {
  std::vector<int> classes_in(data.num_groups(), 0);
  for (int32_t g : data.class_groups) ++classes_in[g];
  std::printf("%lld images, %d classes, %d groups\n", static_cast<long long>(data.size()),
              data.num_classes(), data.num_groups());
  if (data.group_splits.empty()) return;
  for (Split split : {Split::kTrain, Split::kVal, Split::kTest}) {
    int groups = 0, classes = 0;
    std::vector<std::string> names;
    for (int g = 0; g < data.num_groups(); ++g) {
      if (data.group_splits[g] != split) continue;
      ++groups;
      classes += classes_in[g];
      names.push_back(data.group_names[g]);
    }
    std::printf("  %-5s %4d groups, %5d classes: %s\n", SplitName(split), groups, classes,
                absl::StrJoin(names, " ").c_str());
  }
}

absl::Status SaveWithSplits(Dataset data, const std::string& meta, const std::string& out) {
  RETURN_IF_ERROR(AssignSplitsByGroup(&data, SplitFlags()));
  RETURN_IF_ERROR(SaveDataset(data, meta, out));
  std::printf("wrote %s: ", out.c_str());
  PrintSummary(data);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> IntList(const std::string& flag, const std::string& text) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int v = 0;
    if (!absl::SimpleAtoi(part, &v) || v < 1) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": \"", part, "\" is not a positive integer"));
    }
    out.push_back(v);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": empty"));
  return out;
}

// One split of each cache in a comma-separated list (all of a cache when it
// is unsplit), naming what each holds.
absl::StatusOr<std::vector<Dataset>> SplitOfEach(const std::string& list, Split split,
                                                 absl::string_view what) {
  std::vector<Dataset> out;
  for (absl::string_view spec : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(spec));
    out.push_back(data.group_splits.empty() ? std::move(data) : SplitClasses(data, split));
    std::printf("%s: + %d classes, %lld images from %s\n", std::string(what).c_str(),
                out.back().num_classes(), static_cast<long long>(out.back().size()),
                std::string(spec).c_str());
  }
  return out;
}

// The data set named by --data and --split: a cache file, or "fashion-mnist"
// for Fashion-MNIST's test split.
absl::StatusOr<Dataset> EvalData() {
  const std::string path = absl::GetFlag(FLAGS_data);
  if (path == "fashion-mnist") return LoadFashionMnist(absl::GetFlag(FLAGS_fashion_dir), /*test_split=*/true);
  ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(path));
  const std::string split = absl::GetFlag(FLAGS_split);
  if (split == "all") return data;
  for (Split s : {Split::kTrain, Split::kVal, Split::kTest}) {
    if (split != SplitName(s)) continue;
    if (data.group_splits.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(path, " has no split; use --split=all"));
    }
    return SplitClasses(data, s);
  }
  return absl::InvalidArgumentError(absl::StrCat("--split: \"", split, "\" is not train, val, test or all"));
}

// ---- Commands --------------------------------------------------------------

// True, and says so, when `out` holds a cache written with the same `meta`
// (and --force is off).
bool CacheUpToDate(const std::string& out, const std::string& meta, const char* same) {
  if (absl::GetFlag(FLAGS_force) || !fs::exists(out)) return false;
  auto existing = ReadDatasetMeta(out);
  if (!existing.ok() || *existing != meta) return false;
  std::printf("%s is up to date (same %s); --force rebuilds it\n", out.c_str(), same);
  return true;
}

// A progress line for work that reports (done, total) and learns its total
// on the first report.
class CountingProgress {
 public:
  explicit CountingProgress(std::string what) : what_(std::move(what)), progress_(what_, 0) {}
  std::function<void(int, int)> Callback() {
    return [this](int done, int total) {
      if (!started_) {
        progress_ = Progress(what_, total);
        started_ = true;
      }
      progress_.Update(done, "");
    };
  }
  void Finish() { progress_.Finish(""); }

 private:
  std::string what_;
  Progress progress_;
  bool started_ = false;
};

// --preview: a PNG grid of --rows classes spread over `data`.
absl::Status MaybeWritePreview(const Dataset& data) {
  const std::string preview = absl::GetFlag(FLAGS_preview);
  if (preview.empty()) return absl::OkStatus();
  std::vector<int32_t> rows;
  const int n = std::max(1, absl::GetFlag(FLAGS_rows));
  for (int i = 0; i < n && i < data.num_classes(); ++i) {
    rows.push_back(static_cast<int32_t>(static_cast<int64_t>(i) * data.num_classes() / n));
  }
  return WriteImageGrid(preview, data, rows, absl::GetFlag(FLAGS_per_row));
}

absl::Status DataGlyphs(const std::vector<std::string>&) {
  GlyphOptions o;
  o.font_dir = absl::GetFlag(FLAGS_font_dir);
  o.instances = absl::GetFlag(FLAGS_instances);
  o.max_classes_per_script = absl::GetFlag(FLAGS_max_classes_per_script);
  o.min_classes_per_script = absl::GetFlag(FLAGS_min_classes_per_script);
  o.max_scripts = absl::GetFlag(FLAGS_max_scripts);
  o.elastic_rms = absl::GetFlag(FLAGS_elastic_rms);
  o.max_rotation_degrees = absl::GetFlag(FLAGS_max_rotation);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  const std::string out = OutOr("data/glyphs.bin");
  ASSIGN_OR_RETURN(std::string fingerprint, GlyphFingerprint(o));
  const SplitOptions split = SplitFlags();
  const std::string meta = absl::StrFormat("%s split=%g/%g/%d", fingerprint, split.train_fraction,
                                           split.val_fraction, split.seed);
  if (CacheUpToDate(out, meta, "options and fonts")) return absl::OkStatus();
  CountingProgress progress("glyphs: classes");
  GlyphReport report;
  auto data = RenderGlyphs(o, &report, progress.Callback());
  if (!data.ok()) return data.status();
  progress.Finish();
  std::printf("rendered %d scripts, %d classes, %lld images from %d font faces "
              "(choosing %.1fs, rendering %.1fs)\n",
              report.scripts, report.classes, static_cast<long long>(report.images), report.fonts,
              report.select_seconds, report.render_seconds);
  RETURN_IF_ERROR(MaybeWritePreview(*data));
  return SaveWithSplits(*std::move(data), meta, out);
}

absl::Status DataOmniglot(const std::vector<std::string>&) {
  const std::string roots = absl::GetFlag(FLAGS_root);
  if (roots.empty()) return absl::InvalidArgumentError("--root: required");
  ImageLoadOptions options{ImageLoadOptions::Invert::kAuto, absl::GetFlag(FLAGS_max_per_class)};
  Dataset merged;
  for (absl::string_view root : absl::StrSplit(roots, ',', absl::SkipWhitespace())) {
    ASSIGN_OR_RETURN(Dataset part, LoadOmniglot(std::string(root), options));
    // Alphabets are unique across Omniglot's background and evaluation sets.
    AppendDataset(std::move(part), &merged);
  }
  return SaveWithSplits(std::move(merged), absl::StrCat("omniglot root=", roots),
                        OutOr("data/omniglot.bin"));
}

absl::Status DataFolders(const std::vector<std::string>&) {
  const std::string root = absl::GetFlag(FLAGS_root);
  if (root.empty()) return absl::InvalidArgumentError("--root: required");
  ImageLoadOptions options;
  options.max_per_class = absl::GetFlag(FLAGS_max_per_class);
  ASSIGN_OR_RETURN(Dataset data, LoadClassFolders(root, options));
  return SaveWithSplits(std::move(data), absl::StrCat("folders root=", root),
                        OutOr("data/folders.bin"));
}

absl::Status DataClipart(const std::vector<std::string>&) {
  ClipartOptions o;
  const std::string root = absl::GetFlag(FLAGS_root);
  if (!root.empty()) o.root = root;
  o.instances = absl::GetFlag(FLAGS_clipart_instances);
  o.max_images = absl::GetFlag(FLAGS_max_images);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.category_depth = absl::GetFlag(FLAGS_category_depth);
  o.split = SplitFlags();
  const std::string out = OutOr("data/clipart.bin");
  const std::string meta = ClipartFingerprint(o);
  if (CacheUpToDate(out, meta, "options and drawings")) return absl::OkStatus();
  CountingProgress progress("clipart: drawings");
  int skipped = 0;
  auto data = RenderClipart(o, &skipped, progress.Callback());
  if (!data.ok()) return data.status();
  progress.Finish();
  if (skipped > 0) std::printf("skipped %d drawings that would not decode or were empty\n", skipped);
  RETURN_IF_ERROR(MaybeWritePreview(*data));
  RETURN_IF_ERROR(SaveDataset(*data, meta, out));
  std::printf("wrote %s: ", out.c_str());
  PrintSummary(*data);
  return absl::OkStatus();
}

absl::Status DataInfo(const std::vector<std::string>& args) {
  const std::string path = args.empty() ? absl::GetFlag(FLAGS_data) : args[0];
  std::string meta;
  ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(path, &meta));
  std::printf("%s\n  %s\n", path.c_str(), meta.c_str());
  PrintSummary(data);
  return absl::OkStatus();
}

absl::Status DataPreview(const std::vector<std::string>& args) {
  const std::string path = args.empty() ? absl::GetFlag(FLAGS_data) : args[0];
  ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(path));
  const std::string out = OutOr("data/preview.png");
  std::vector<int32_t> candidates;
  const std::string groups = absl::GetFlag(FLAGS_groups);
  std::vector<std::string> wanted = absl::StrSplit(groups, ',', absl::SkipWhitespace());
  for (int32_t c = 0; c < data.num_classes(); ++c) {
    const std::string& g = data.group_names[data.class_groups[c]];
    if (wanted.empty() || std::find(wanted.begin(), wanted.end(), g) != wanted.end()) {
      candidates.push_back(c);
    }
  }
  if (candidates.empty()) return absl::NotFoundError(absl::StrCat("--groups: no classes in ", groups));
  const int n = std::min<int>(std::max(1, absl::GetFlag(FLAGS_rows)), candidates.size());
  std::vector<int32_t> rows;
  for (int i = 0; i < n; ++i) rows.push_back(candidates[static_cast<size_t>(i) * candidates.size() / n]);
  RETURN_IF_ERROR(WriteImageGrid(out, data, rows, absl::GetFlag(FLAGS_per_row)));
  std::printf("wrote %s: %d classes\n", out.c_str(), n);
  return absl::OkStatus();
}

absl::Status FashionMnistPng(const std::vector<std::string>&) {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return absl::InvalidArgumentError("--out: required (a folder)");
  const int per_class = absl::GetFlag(FLAGS_per_class);
  const int offset = absl::GetFlag(FLAGS_offset);
  ASSIGN_OR_RETURN(Dataset data, LoadFashionMnist(absl::GetFlag(FLAGS_fashion_dir), /*test_split=*/true));
  const std::string classes = absl::GetFlag(FLAGS_classes);
  const std::vector<std::string> names =
      classes == "all" ? FashionMnistClassNames()
                       : std::vector<std::string>(absl::StrSplit(classes, ',', absl::SkipWhitespace()));
  RETURN_IF_ERROR(WriteClassPngs(data, names, per_class, offset, out));
  std::printf("wrote %d PNGs for each of %zu classes under %s (test images %d..%d of each class)\n",
              per_class, names.size(), out.c_str(), offset, offset + per_class - 1);
  return absl::OkStatus();
}

// --data's meta-train and meta-val classes.
absl::StatusOr<std::pair<Dataset, Dataset>> TrainAndVal() {
  ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(absl::GetFlag(FLAGS_data)));
  if (data.group_splits.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(absl::GetFlag(FLAGS_data), " has no train/val/test split"));
  }
  return std::make_pair(SplitClasses(data, Split::kTrain), SplitClasses(data, Split::kVal));
}

// The meta-train classes of each --extra_data cache.
absl::StatusOr<std::vector<Dataset>> ExtraTrainSets(absl::string_view command) {
  return SplitOfEach(absl::GetFlag(FLAGS_extra_data), Split::kTrain,
                     absl::StrCat(command, " training"));
}

absl::Status PretrainCommand(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(auto splits, TrainAndVal());
  Dataset& train = splits.first;
  const Dataset& val = splits.second;
  // Broader pretraining data: the extra classes join one classifier;
  // meta-val stays --data's alone.
  ASSIGN_OR_RETURN(std::vector<Dataset> extra, ExtraTrainSets("pretrain"));
  for (Dataset& more : extra) AppendDataset(std::move(more), &train);
  PretrainOptions o;
  o.arch = absl::GetFlag(FLAGS_arch);
  o.epochs = absl::GetFlag(FLAGS_epochs);
  o.batch_size = absl::GetFlag(FLAGS_batch_size);
  o.lr = absl::GetFlag(FLAGS_lr);
  o.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  o.dropout = absl::GetFlag(FLAGS_dropout);
  o.max_shift = absl::GetFlag(FLAGS_max_shift);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.work_dir = absl::GetFlag(FLAGS_work_dir);
  o.resume = absl::GetFlag(FLAGS_resume);
  o.max_steps = absl::GetFlag(FLAGS_max_steps);
  o.checkpoint_seconds = absl::GetFlag(FLAGS_checkpoint_seconds);
  o.eval_episodes = absl::GetFlag(FLAGS_eval_episodes);
  ASSIGN_OR_RETURN(PretrainReport report, Pretrain(train, val, o));
  std::printf("pretrained %s: %d epochs, %lld steps, final loss %.4f accuracy %.4f; "
              "%.0f images/s, %.0fs wall, %.0fs CPU; weights in %s\n",
              o.arch.c_str(), report.epochs_done, static_cast<long long>(report.steps_done),
              report.epoch_loss.empty() ? 0.0 : report.epoch_loss.back(),
              report.epoch_accuracy.empty() ? 0.0 : report.epoch_accuracy.back(),
              report.images_per_second, report.train_seconds, report.train_cpu_seconds,
              report.weights_path.c_str());
  for (const auto& r : report.val) {
    std::printf("meta-val PROTOTYPE %d-way %d-shot: %.2f%% +- %.2f%% (%d episodes)\n", r.ways,
                r.shots, 100 * r.accuracy, 100 * r.ci95, r.episodes);
  }
  return absl::OkStatus();
}

absl::Status ExportCommand(const std::vector<std::string>&) {
  ExportOptions o;
  o.arch = absl::GetFlag(FLAGS_arch);
  o.weights = absl::GetFlag(FLAGS_weights);
  o.meta_learner = absl::GetFlag(FLAGS_meta_learner);
  o.name = absl::GetFlag(FLAGS_name);
  o.out_dir = OutOr(absl::StrCat("models/", o.name));
  o.finetune_lr = absl::GetFlag(FLAGS_finetune_lr);
  RETURN_IF_ERROR(ExportPretrained(o));
  std::printf("exported %s (%s) to %s\n", o.name.c_str(), o.arch.c_str(), o.out_dir.c_str());
  return absl::OkStatus();
}

absl::Status ProtoEval(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(Dataset data, EvalData());
  ASSIGN_OR_RETURN(std::vector<int> ways, IntList("ways", absl::GetFlag(FLAGS_ways)));
  ASSIGN_OR_RETURN(std::vector<int> shots, IntList("shots", absl::GetFlag(FLAGS_shots)));
  ProtoEvalOptions o;
  o.settings.clear();
  for (int w : ways) {
    for (int s : shots) o.settings.emplace_back(w, s);
  }
  o.episodes = absl::GetFlag(FLAGS_episodes);
  o.queries = absl::GetFlag(FLAGS_queries);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  const std::string model = absl::GetFlag(FLAGS_model);
  ASSIGN_OR_RETURN(std::vector<FewShotResult> results, EvaluatePrototype(model, data, o));
  std::printf("| model | data | setting | PROTOTYPE accuracy | episodes |\n|---|---|---|---|---|\n");
  for (const auto& r : results) {
    std::printf("| %s | %s (%s) | %d-way %d-shot | %.2f%% ± %.2f | %d |\n", model.c_str(),
                absl::GetFlag(FLAGS_data).c_str(), absl::GetFlag(FLAGS_split).c_str(), r.ways,
                r.shots, 100 * r.accuracy, 100 * r.ci95, r.episodes);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<int, int>>> Settings(const std::string& text) {
  std::vector<std::pair<int, int>> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> ws = absl::StrSplit(part, 'x');
    int w = 0, k = 0;
    if (!absl::SimpleAtoi(ws.first, &w) || !absl::SimpleAtoi(ws.second, &k) || w < 2 || k < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--settings: \"", part, "\" is not WAYSxSHOTS, e.g. 5x1"));
    }
    out.emplace_back(w, k);
  }
  if (out.empty()) return absl::InvalidArgumentError("--settings: empty");
  return out;
}

absl::Status MetaTrainCommand(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(auto splits, TrainAndVal());
  MetaTrainOptions o;
  o.model_dir = absl::GetFlag(FLAGS_model);
  o.work_dir = absl::GetFlag(FLAGS_meta_work_dir);
  o.steps = absl::GetFlag(FLAGS_meta_steps);
  o.meta_batch = absl::GetFlag(FLAGS_meta_batch);
  o.meta_lr = absl::GetFlag(FLAGS_meta_lr);
  o.inner_lr = absl::GetFlag(FLAGS_inner_lr);
  o.inner_steps = absl::GetFlag(FLAGS_inner_steps);
  ASSIGN_OR_RETURN(o.settings, Settings(absl::GetFlag(FLAGS_settings)));
  o.queries = absl::GetFlag(FLAGS_queries);
  o.first_order = absl::GetFlag(FLAGS_first_order);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.resume = absl::GetFlag(FLAGS_resume);
  o.checkpoint_seconds = absl::GetFlag(FLAGS_checkpoint_seconds);
  o.val_every = absl::GetFlag(FLAGS_val_every);
  o.val_episodes = absl::GetFlag(FLAGS_val_episodes);
  // Each extra cache is a task domain of its own: a task never mixes them.
  std::vector<Dataset> train;
  train.push_back(std::move(splits.first));
  ASSIGN_OR_RETURN(std::vector<Dataset> extra, ExtraTrainSets("metatrain"));
  for (Dataset& more : extra) train.push_back(std::move(more));
  std::vector<Dataset> val;
  val.push_back(std::move(splits.second));
  ASSIGN_OR_RETURN(std::vector<Dataset> more_val,
                   SplitOfEach(absl::GetFlag(FLAGS_val_data), Split::kVal, "metatrain meta-val"));
  for (Dataset& more : more_val) val.push_back(std::move(more));
  ASSIGN_OR_RETURN(MetaTrainReport r, MetaTrain(train, val, o));
  std::string json = absl::StrFormat(
      "{\n  \"steps_done\": %d, \"train_seconds\": %.1f, \"meta_batch\": %d, \"meta_lr\": %g,\n"
      "  \"inner_lr\": %g, \"inner_steps\": %d, \"first_order\": %s,\n"
      "  \"untrained_val_accuracy\": %.5f, \"untrained_val_loss\": %.5f,\n  \"val\": [",
      r.steps_done, r.train_seconds, o.meta_batch, o.meta_lr, o.inner_lr, o.inner_steps,
      o.first_order ? "true" : "false", r.untrained_val_accuracy, r.untrained_val_loss);
  for (size_t i = 0; i < r.val_accuracy.size(); ++i) {
    absl::StrAppendFormat(&json, "%s{\"step\": %d, \"accuracy\": %.5f, \"loss\": %.5f}",
                          i ? ", " : "", r.val_accuracy[i].first, r.val_accuracy[i].second,
                          r.val_loss[i].second);
  }
  json += "]\n}\n";
  std::ofstream(o.work_dir + "/report.json") << json;
  std::printf("%s", json.c_str());
  std::printf("meta-learner: %s\n", r.meta_learner_path.c_str());
  return absl::OkStatus();
}

absl::Status TuneFinetuneCommand(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(auto splits, TrainAndVal());
  std::vector<double> grid;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_lr_grid), ',', absl::SkipWhitespace())) {
    double lr = 0;
    if (!absl::SimpleAtod(part, &lr) || lr <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("--lr_grid: \"", part, "\" is not a positive number"));
    }
    grid.push_back(lr);
  }
  std::vector<Dataset> val;
  val.push_back(std::move(splits.second));
  ASSIGN_OR_RETURN(std::vector<Dataset> more_val,
                   SplitOfEach(absl::GetFlag(FLAGS_val_data), Split::kVal, "tune-finetune meta-val"));
  for (Dataset& more : more_val) val.push_back(std::move(more));
  double best = 0;
  ASSIGN_OR_RETURN(auto results,
                   TuneFinetuneLr(val, absl::GetFlag(FLAGS_model), grid,
                                  absl::GetFlag(FLAGS_val_episodes), absl::GetFlag(FLAGS_seed), &best));
  std::printf("| FINETUNE lr | meta-val 5-way 1+5-shot accuracy, 5 steps (mean over sets) |\n|---|---|\n");
  for (const auto& [lr, acc] : results) std::printf("| %g | %.2f%% |\n", lr, 100 * acc);
  std::printf("best: %g\n", best);
  return absl::OkStatus();
}

absl::Status EvalCommand(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(absl::GetFlag(FLAGS_data)));
  if (data.group_splits.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(absl::GetFlag(FLAGS_data), " has no split"));
  }
  Dataset test = SplitClasses(data, Split::kTest);
  std::vector<CrossDomain> cross;
  if (!absl::GetFlag(FLAGS_fashion_dir).empty()) {
    ASSIGN_OR_RETURN(Dataset fashion,
                     LoadFashionMnist(absl::GetFlag(FLAGS_fashion_dir), /*test_split=*/true));
    cross.push_back({"fashion-mnist", std::move(fashion)});
  }
  const std::string cross_data = absl::GetFlag(FLAGS_cross_data);
  std::vector<std::string> specs = absl::StrSplit(cross_data, ',', absl::SkipWhitespace());
  ASSIGN_OR_RETURN(std::vector<Dataset> more, SplitOfEach(cross_data, Split::kTest, "eval"));
  for (size_t i = 0; i < more.size(); ++i) {
    // Rows are named by the file's stem and the view: "data/clipart.bin:groups"
    // -> "clipart:groups".
    const size_t colon = std::min(specs[i].find(':'), specs[i].size());
    cross.push_back({std::filesystem::path(specs[i].substr(0, colon)).stem().string() +
                         specs[i].substr(colon),
                     std::move(more[i])});
  }
  EvalOptions o;
  o.model_dir = absl::GetFlag(FLAGS_model);
  o.episodes = absl::GetFlag(FLAGS_episodes);
  o.queries = absl::GetFlag(FLAGS_queries);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.finetune_lr = absl::GetFlag(FLAGS_finetune_lr);
  o.curve_episodes = absl::GetFlag(FLAGS_curve_episodes);
  ASSIGN_OR_RETURN(EvalReport report, Evaluate(test, cross, o));
  const std::string prefix = absl::GetFlag(FLAGS_report);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(prefix).parent_path(), ec);
  RETURN_IF_ERROR(WriteEvalReport(report, prefix + ".json", prefix + ".md", prefix + ".png"));
  std::ifstream md(prefix + ".md");
  std::printf("%s", std::string(std::istreambuf_iterator<char>(md), {}).c_str());
  std::printf("wrote %s.json, %s.md, %s.png\n", prefix.c_str(), prefix.c_str(), prefix.c_str());
  return absl::OkStatus();
}

// ---- Dispatch and help -----------------------------------------------------

struct Command {
  const char* name;
  const char* args;
  const char* summary;
  const char* details;
  std::vector<const char*> flags;
  absl::Status (*run)(const std::vector<std::string>& args);
};

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"data glyphs", "[--out data/glyphs.bin]",
       "Render the Omniglot-like glyph set from the installed fonts and split it by script.",
       "Characters are grouped into scripts by font family (Noto Sans/Serif Devanagari ->\n"
       "Devanagari) or, for blocks many fonts share, by Unicode block (Latin, Greek, Arrows).\n"
       "Instances vary by font, weight, affine and elastic distortion; 28x28, ink bright.\n"
       "Whole scripts go to meta-train / meta-val / meta-test. The cache is rebuilt only\n"
       "when the options or the installed fonts change.",
       {"out", "font_dir", "instances", "max_classes_per_script", "min_classes_per_script",
        "max_scripts", "elastic_rms", "max_rotation", "seed", "threads", "train_fraction",
        "val_fraction", "split_seed", "force", "preview", "rows", "per_row"},
       DataGlyphs},
      {"data omniglot", "--root DIR[,DIR...] [--out data/omniglot.bin]",
       "Read Omniglot's layout (<alphabet>/<character>/*.png) into a cache, split by alphabet.",
       "Omniglot's dark-on-white images are inverted so ink is bright, and resized to 28x28.\n"
       "Pass images_background and images_evaluation together, comma-separated.",
       {"root", "out", "max_per_class", "train_fraction", "val_fraction", "split_seed"},
       DataOmniglot},
      {"data folders", "--root DIR [--out data/folders.bin]",
       "Read a class-folder image set (<class>/*.{png,jpg}) into a cache, split by class.",
       "Images are converted to gray and resized to 28x28 as adaptd resizes them.",
       {"root", "out", "max_per_class", "train_fraction", "val_fraction", "split_seed"},
       DataFolders},
      {"data clipart", "[--root /usr/share/openclipart/png] [--out data/clipart.bin]",
       "Render clip-art exemplar classes (one per PNG, warped copies), split by category.",
       "Each drawing's filled shape becomes a class of --clipart_instances randomly rotated,\n"
       "sheared, scaled and shifted 28x28 renders, object bright on dark like the glyphs.\n"
       "Grouped by category (the folder --category_depth levels down, e.g. animals/birds),\n"
       "categories split into meta-train/val/test, each weighing the same. As\n"
       "data/clipart.bin, `metatrain --extra_data` draws exemplar tasks from its meta-train\n"
       "split; as data/clipart.bin:groups, category tasks (make models uses both, and\n"
       "the meta-val categories to choose the meta-learner; `eval --cross_data` scores the\n"
       "meta-test categories). Needs the openclipart-png package (or any folder of PNGs).",
       {"root", "out", "clipart_instances", "max_images", "category_depth", "seed", "threads",
        "train_fraction", "val_fraction", "split_seed", "force", "preview", "rows", "per_row"},
       DataClipart},
      {"data info", "[FILE]", "Print what a data set cache holds and how it is split.", "",
       {"data"}, DataInfo},
      {"data preview", "[FILE] [--out data/preview.png]",
       "Write a PNG grid of a cache's images, one class per row.", "",
       {"data", "out", "groups", "rows", "per_row"}, DataPreview},
      {"fashion-mnist-png", "--out DIR",
       "Write Fashion-MNIST test images as DIR/<class>/<i>.png (for demos).",
       "Images come from the TEST split, in file order; --offset picks later ones, so\n"
       "  adapt-train fashion-mnist-png --out demo/support --per_class 5\n"
       "  adapt-train fashion-mnist-png --out demo/query --per_class 20 --offset 5\n"
       "give disjoint support and query sets. Never train on these.",
       {"out", "classes", "per_class", "offset", "fashion_dir"}, FashionMnistPng},
      {"pretrain", "[--data data/glyphs.bin] [--extra_data data/clipart.bin] [--work_dir DIR]",
       "Supervised pretraining of a native backbone on the meta-train classes.",
       "A cosine-style classifier: the engine's head (scale 10) over L2-normalised features,\n"
       "with dropout before it and random shifts as augmentation. Adam with L2. Prints\n"
       "progress with an ETA, checkpoints every epoch (and every --checkpoint_seconds)\n"
       "and continues after an interrupt with --resume. Ends with meta-val 5-way 1-shot\n"
       "and 5-shot PROTOTYPE accuracy, computed by the engine code adaptd runs.\n"
       "On a machine that is running anything else, set OMP_WAIT_POLICY=PASSIVE or use\n"
       "--threads 1: spinning OpenMP threads made 2-thread training 9x slower on 2 busy cores.",
       {"data", "extra_data", "arch", "epochs", "batch_size", "lr", "weight_decay", "dropout",
        "max_shift", "seed", "threads", "work_dir", "resume", "max_steps",
        "checkpoint_seconds", "eval_episodes"},
       PretrainCommand},
      {"export", "[--weights data/pretrain-conv4/backbone.pt] [--out models/NAME]",
       "Write a model repository folder (model.pbtxt + weights) that adaptd loads.",
       "The folder is loaded back the way adaptd loads it before the command succeeds.",
       {"weights", "arch", "name", "out", "meta_learner", "finetune_lr"}, ExportCommand},
      {"proto-eval", "[--model models/glyphs-conv4] [--data FILE|fashion-mnist] [--split test]",
       "Few-shot PROTOTYPE accuracy of a model folder, as adaptd would adapt it.",
       "--data fashion-mnist uses Fashion-MNIST's test split (cross-domain).",
       {"model", "data", "split", "ways", "shots", "episodes", "queries", "seed", "threads",
        "fashion_dir"},
       ProtoEval},
      {"tune-finetune", "[--model DIR] [--data data/glyphs.bin] [--lr_grid 0.003,...,1]",
       "Pick FINETUNE's learning rate on meta-val (never on meta-test).",
       "Scores 5-step FINETUNE on 5-way 1-shot and 5-shot meta-val episodes of --data and\n"
       "of each --val_data for each rate; the best mean wins (the smallest rate on a tie).",
       {"model", "data", "val_data", "lr_grid", "val_episodes", "seed", "threads"},
       TuneFinetuneCommand},
      {"metatrain", "--model DIR [--data data/glyphs.bin] [--meta_work_dir data/metatrain]",
       "Episodic meta-training of the meta-learner on a frozen backbone.",
       "Unrolls --inner_steps adaptation steps per task with the engine's AdaptHead and\n"
       "backpropagates the query loss through them (second order unless --first_order).\n"
       "Tasks come from --data's meta-train split and, in turn, from each --extra_data\n"
       "cache (other domains teach steps that transfer; make models adds clip art).\n"
       "Checkpoints every --checkpoint_seconds and resumes with --resume (the same run\n"
       "only: other data or options start over); keeps the meta-learner best on\n"
       "meta-val (--data's and each --val_data's, 5-way 1-shot and 5-shot, mean\n"
       "accuracy; the untrained one included) as meta_learner.pt.",
       {"model", "data", "extra_data", "val_data", "meta_work_dir", "meta_steps", "meta_batch", "meta_lr", "inner_lr",
        "inner_steps", "first_order", "settings", "queries", "seed", "threads", "resume",
        "checkpoint_seconds", "val_every", "val_episodes"},
       MetaTrainCommand},
      {"eval", "[--model DIR] [--data data/glyphs.bin] [--report docs/eval/NAME]",
       "Compare PIXELS, PROTOTYPE, FINETUNE-5/50 and META on meta-test and Fashion-MNIST.",
       "5-way and 20-way, 1-shot and 5-shot on the glyph meta-test split; 5-way on\n"
       "Fashion-MNIST (cross-domain; --fashion_dir= skips it) and on the meta-test split\n"
       "of each --cross_data cache. Accuracy with 95% CIs, adaptation time (mean, p95),\n"
       "compute, support loss before and after, peak memory, and a plot of accuracy\n"
       "against steps.",
       {"model", "data", "cross_data", "episodes", "queries", "seed", "threads", "finetune_lr",
        "curve_episodes", "report", "fashion_dir"},
       EvalCommand},
  };
  return *commands;
}

std::string GeneralUsage() {
  std::string s =
      "adapt-train: data sets, backbone pretraining and model export for adaptd.\n\n"
      "usage: adapt-train <command> [flags]\n\ncommands:\n";
  for (const auto& c : Commands()) absl::StrAppend(&s, absl::StrFormat("  %-18s %s\n", c.name, c.summary));
  absl::StrAppend(&s,
                  "\n`adapt-train <command> --help` shows a command's flags, `adapt-train help all`\n"
                  "every command's; --helpfull lists every flag.\n"
                  "The default model: data glyphs -> pretrain -> export (see `make models`).\n");
  return s;
}

void PrintCommandHelp(const Command& c) {
  std::printf("usage: adapt-train %s %s\n\n%s\n", c.name, c.args, c.summary);
  if (std::strlen(c.details) > 0) std::printf("\n%s\n", c.details);
  std::printf("\nflags:\n");
  for (const char* name : c.flags) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    std::printf("  --%s (%s)\n      default: %s\n", name, flag->Help().c_str(),
                flag->DefaultValue().empty() ? "\"\"" : flag->DefaultValue().c_str());
  }
}

const Command* FindCommand(const std::vector<std::string>& words, size_t* used) {
  for (size_t n : {size_t{2}, size_t{1}}) {
    if (words.size() < n) continue;
    const std::string name = absl::StrJoin(words.begin(), words.begin() + n, " ");
    for (const auto& c : Commands()) {
      if (name == c.name) {
        *used = n;
        return &c;
      }
    }
  }
  return nullptr;
}

bool IsHelpFlag(absl::string_view arg) {
  return arg == "--help" || arg == "-help" || arg == "-h" || arg == "--helpshort" ||
         arg == "-helpshort" || arg == "help";
}

}  // namespace
}  // namespace adaptd::train

int main(int argc, char** argv) {
  using namespace adaptd::train;
  absl::SetProgramUsageMessage(GeneralUsage());
  // Help is per command, so it is handled before absl's --help would print
  // every flag of every command.
  bool help = false;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    if (IsHelpFlag(argv[i])) {
      help = true;
    } else if (argv[i][0] != '-') {
      words.push_back(argv[i]);
    }
  }
  if (help) {
    size_t used = 0;
    const Command* command = FindCommand(words, &used);
    if (command != nullptr) {
      PrintCommandHelp(*command);
    } else {
      std::printf("%s", GeneralUsage().c_str());
      if (!words.empty() && words[0] == "all") {
        for (const auto& c : Commands()) {
          std::printf("\n----\n");
          PrintCommandHelp(c);
        }
      }
    }
    return 0;
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  size_t used = 0;
  const Command* command = FindCommand(args, &used);
  if (command == nullptr) {
    std::fprintf(stderr, "%s%s\n", GeneralUsage().c_str(),
                 args.empty() ? "error: no command given"
                              : absl::StrCat("error: unknown command \"", absl::StrJoin(args, " "), "\"").c_str());
    return 2;
  }
  args.erase(args.begin(), args.begin() + used);
  const absl::Status status = command->run(args);
  if (!status.ok()) {
    std::fprintf(stderr, "adapt-train %s: %s\n", command->name, status.ToString().c_str());
    return 1;
  }
  return 0;
}
