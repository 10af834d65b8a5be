// adapt-train data ...: data set caches from rendered glyphs and clip art,
// Omniglot and class folders, split by group; and what a cache holds.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/common/status_macros.h"
#include "server/engine/input/preprocessing.h"
#include "train/clipart.h"
#include "train/cmd_util.h"
#include "train/command.h"
#include "train/data_cache.h"
#include "train/dataset.h"
#include "train/debian_packages.h"
#include "train/fortunes.h"
#include "train/dictionary.h"
#include "train/emoji.h"
#include "train/flags.h"
#include "train/glyphs.h"
#include "train/loaders.h"
#include "train/png_out.h"
#include "train/progress.h"
#include "train/splits.h"
#include "train/text_data.h"
#include "train/wordnet.h"

ABSL_FLAG(std::string, font_dir, "/usr/share/fonts", "Folder searched recursively for .ttf/.otf/.ttc fonts.");
ABSL_FLAG(int, instances, 20, "Images rendered per character.");
ABSL_FLAG(int, clipart_instances, 10, "data clipart, data emoji: renders per picture.");
ABSL_FLAG(std::string, emoji_font, "", "data emoji: a colour bitmap font (default: Noto Color Emoji).");
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
ABSL_FLAG(double, train_fraction, 0.6, "Share of classes (whole groups) for meta-train.");
ABSL_FLAG(double, val_fraction, 0.15, "Share of classes (whole groups) for meta-val; the rest is meta-test.");
ABSL_FLAG(uint64_t, split_seed, 1, "Seed of the split by group (kept apart from --seed on purpose).");
ABSL_FLAG(std::string, root, "", "Data root: Omniglot's <alphabet>/<character>/*.png (several roots comma-separated) or <class>/*.{png,jpg}.");
ABSL_FLAG(std::vector<std::string>, size, {},
          "data folders, omniglot, clipart, emoji: H or H,W of the cached images (default 28); "
          "folders and omniglot use adaptd's preprocessing (--resize_mode, "
          "--resize_shorter_side, --background).");
ABSL_FLAG(int, channels, 1, "data folders, omniglot, clipart, emoji: 1 (grey) or 3 (RGB).");
ABSL_FLAG(int, max_per_class, 0, "Read at most this many images per class; 0 for all.");
ABSL_FLAG(std::string, groups, "", "Comma-separated group (script) names to show; empty for a spread of all.");
ABSL_FLAG(std::string, wordnet_dir, adaptd::train::kWordNetDir, "data wordnet: WordNet 3.0's dict folder (data.noun).");
ABSL_FLAG(int, min_synsets, 10, "data wordnet: smallest class, in synsets.");
ABSL_FLAG(int, max_synsets, 40, "data wordnet: largest class, in synsets.");
ABSL_FLAG(bool, lemmas, false, "data wordnet: start each definition with its synset's lemmas.");
ABSL_FLAG(std::string, levels_of, "",
          "data wordnet: a corpus (.tsv) whose meta-train lexicographer files alone to keep, "
          "all in one group \"levels\", for pretrain --extra_data: the same subtrees' texts "
          "under coarser or finer labels.");
ABSL_FLAG(std::string, dpkg_status, adaptd::train::kDpkgStatusFile,
          "data packages: dpkg's status file.");
ABSL_FLAG(int, min_texts, 10,
          "data packages, data fortunes: smallest class kept, in paragraphs or entries.");
ABSL_FLAG(std::string, fortunes_dir, adaptd::train::kFortunesDir,
          "data fortunes: the folder of fortune files.");
ABSL_FLAG(std::string, dict, adaptd::train::kGcideDict,
          "data dictionary: a dictd dictionary (.dict or .dict.dz).");
ABSL_FLAG(int, rows, 40, "Classes (rows) in the preview grid.");
ABSL_FLAG(int, per_row, 20, "Images per row in the preview grid.");

namespace adaptd::train {
namespace {
namespace fs = std::filesystem;

// --train_fraction, --val_fraction and --split_seed.
SplitOptions SplitFlags() {
  SplitOptions s;
  s.train_fraction = absl::GetFlag(FLAGS_train_fraction);
  s.val_fraction = absl::GetFlag(FLAGS_val_fraction);
  s.seed = absl::GetFlag(FLAGS_split_seed);
  return s;
}

// Sizes, and the groups of each split.
void PrintSummary(const Dataset& data) {
  std::vector<int> classes_in(data.num_groups(), 0);
  for (int32_t g : data.class_groups) ++classes_in[g];
  std::printf("%lld %s, %d classes, %d groups\n", static_cast<long long>(data.size()),
              data.modality == Modality::kText ? "texts" : "images",
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

// Writes the cache and says what it holds.
absl::Status SaveAndSummarise(const Dataset& data, const std::string& meta,
                              const std::string& out) {
  RETURN_IF_ERROR(SaveDataset(data, meta, out));
  std::printf("wrote %s: ", out.c_str());
  PrintSummary(data);
  return absl::OkStatus();
}

// Splits `data` by group as the split flags say, then saves it.
absl::Status SaveWithSplits(Dataset data, const std::string& meta, const std::string& out) {
  RETURN_IF_ERROR(AssignSplitsByGroup(&data, SplitFlags()));
  return SaveAndSummarise(data, meta, out);
}

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

// --size and --channels.
absl::StatusOr<ImageShape> ShapeFlags() {
  ASSIGN_OR_RETURN(std::vector<int> size, Numbers<int>("size", absl::GetFlag(FLAGS_size)));
  if (size.size() > 2) return absl::InvalidArgumentError("--size: H or H,W");
  ImageShape shape;
  shape.channels = absl::GetFlag(FLAGS_channels);
  shape.height = size.empty() ? kImageSide : size[0];
  shape.width = size.size() == 2 ? size[1] : shape.height;
  if (shape.height < 1 || shape.height > 4096 || shape.width < 1 || shape.width > 4096) {
    return absl::InvalidArgumentError("--size: sides must be in [1, 4096]");
  }
  if (shape.channels != 1 && shape.channels != 3) {
    return absl::InvalidArgumentError("--channels: 1 (grey) or 3 (RGB)");
  }
  return shape;
}

absl::Status RunDataGlyphs(const std::vector<std::string>&) {
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
  ASSIGN_OR_RETURN(o.shape, ShapeFlags());
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

// How --size, --channels and the image flags say to load images.
absl::StatusOr<ImageLoadOptions> LoadOptions(ImageLoadOptions::Invert invert) {
  ImageLoadOptions o;
  o.invert = invert;
  o.max_per_class = absl::GetFlag(FLAGS_max_per_class);
  ASSIGN_OR_RETURN(const ImageShape shape, ShapeFlags());
  ASSIGN_OR_RETURN(v1::Preprocessing proto, ImageFlags());
  ASSIGN_OR_RETURN(o.image, engine::PreprocessingFromProto(proto, shape.dims()));
  return o;
}

// The exemplar renderers' flags: shape, renders, seed, threads, split.
absl::StatusOr<ExemplarOptions> ExemplarFlags() {
  ExemplarOptions o;
  ASSIGN_OR_RETURN(o.shape, ShapeFlags());
  o.instances = absl::GetFlag(FLAGS_clipart_instances);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.split = SplitFlags();
  return o;
}

// Renders exemplar classes with `render` unless `out` is up to date with
// `meta`; says what was skipped and writes the preview and the cache.
absl::Status SaveExemplars(
    const std::string& what, const std::string& meta, const std::string& out,
    const std::function<absl::StatusOr<Dataset>(int*, const std::function<void(int, int)>&)>&
        render) {
  if (CacheUpToDate(out, meta, "options and pictures")) return absl::OkStatus();
  CountingProgress progress(what);
  int skipped = 0;
  auto data = render(&skipped, progress.Callback());
  if (!data.ok()) return data.status();
  progress.Finish();
  if (skipped > 0) {
    std::printf("skipped %d pictures that would not decode or were empty\n", skipped);
  }
  RETURN_IF_ERROR(MaybeWritePreview(*data));
  return SaveAndSummarise(*data, meta, out);  // The renderer splits by group.
}

// The image settings, for a cache's provenance text.
std::string Describe(const ImageLoadOptions& o) {
  const auto& p = o.image;
  return absl::StrCat(" images=", ShapeText(ShapeOf(o)), " resize=",
                      p.resize_mode == engine::Preprocessing::ResizeMode::kShorterSide
                          ? absl::StrCat("shorter_side:", p.resize_shorter_side)
                          : "stretch",
                      " background=", p.background[0], ",", p.background[1], ",",
                      p.background[2]);
}

absl::Status RunDataOmniglot(const std::vector<std::string>&) {
  const std::string roots = absl::GetFlag(FLAGS_root);
  if (roots.empty()) return absl::InvalidArgumentError("--root: required");
  ASSIGN_OR_RETURN(ImageLoadOptions options, LoadOptions(ImageLoadOptions::Invert::kAuto));
  Dataset merged;
  for (absl::string_view root : absl::StrSplit(roots, ',', absl::SkipWhitespace())) {
    ASSIGN_OR_RETURN(Dataset part, LoadOmniglot(std::string(root), options));
    // Alphabets are unique across Omniglot's background and evaluation sets.
    RETURN_IF_ERROR(AppendDataset(std::move(part), &merged));
  }
  return SaveWithSplits(std::move(merged), absl::StrCat("omniglot root=", roots, Describe(options)),
                        OutOr("data/omniglot.bin"));
}

absl::Status RunDataFolders(const std::vector<std::string>&) {
  const std::string root = absl::GetFlag(FLAGS_root);
  if (root.empty()) return absl::InvalidArgumentError("--root: required");
  ASSIGN_OR_RETURN(ImageLoadOptions options, LoadOptions(ImageLoadOptions::Invert::kNever));
  ASSIGN_OR_RETURN(Dataset data, LoadClassFolders(root, options));
  return SaveWithSplits(std::move(data), absl::StrCat("folders root=", root, Describe(options)),
                        OutOr("data/folders.bin"));
}

absl::Status RunDataClipart(const std::vector<std::string>&) {
  ClipartOptions o;
  const std::string root = absl::GetFlag(FLAGS_root);
  if (!root.empty()) o.root = root;
  o.max_images = absl::GetFlag(FLAGS_max_images);
  o.category_depth = absl::GetFlag(FLAGS_category_depth);
  ASSIGN_OR_RETURN(o.render, ExemplarFlags());
  return SaveExemplars("clipart: drawings", ClipartFingerprint(o), OutOr("data/clipart.bin"),
                       [&](int* skipped, const std::function<void(int, int)>& progress) {
                         return RenderClipart(o, skipped, progress);
                       });
}

absl::Status RunDataEmoji(const std::vector<std::string>&) {
  EmojiOptions o;
  const std::string font = absl::GetFlag(FLAGS_emoji_font);
  if (!font.empty()) o.font = font;
  ASSIGN_OR_RETURN(o.render, ExemplarFlags());
  return SaveExemplars("emoji", EmojiFingerprint(o), OutOr("data/emoji.bin"),
                       [&](int* skipped, const std::function<void(int, int)>& progress) {
                         return RenderEmoji(o, skipped, progress);
                       });
}

absl::Status RunDataWordNet(const std::vector<std::string>&) {
  WordNetOptions o;
  o.dir = absl::GetFlag(FLAGS_wordnet_dir);
  o.min_synsets = absl::GetFlag(FLAGS_min_synsets);
  o.max_synsets = absl::GetFlag(FLAGS_max_synsets);
  o.lemmas = absl::GetFlag(FLAGS_lemmas);
  o.split = SplitFlags();
  if (const std::string levels_of = absl::GetFlag(FLAGS_levels_of); !levels_of.empty()) {
    TextLoadOptions load;
    load.split = o.split;
    ASSIGN_OR_RETURN(const Dataset base, LoadTextTsv(levels_of, load));
    o.only_files = SplitClasses(base, Split::kTrain).group_names;
    o.one_group = "levels";
  }
  ASSIGN_OR_RETURN(const Dataset corpus, BuildWordNetCorpus(o));
  const std::string out = OutOr("data/wordnet.tsv");
  RETURN_IF_ERROR(WriteTextTsv(corpus, out));
  TextLoadOptions load;
  load.split = o.split;
  ASSIGN_OR_RETURN(const Dataset written, LoadTextTsv(out, load));
  std::printf("wrote %s: ", out.c_str());
  PrintSummary(written);
  return absl::OkStatus();
}

// Writes an evaluation-only text set to --out (or `default_out`) and says
// how to use it.
absl::Status WriteEvaluationTexts(const Dataset& data, const std::string& default_out) {
  const std::string out = OutOr(default_out);
  RETURN_IF_ERROR(WriteTextTsv(data, out));
  std::printf("wrote %s: ", out.c_str());
  PrintSummary(data);
  for (int32_t c = 0; c < data.num_classes(); ++c) {
    std::printf("  %s", data.class_names[c].c_str());
  }
  std::printf("\nfor evaluation only: --cross_data %s:all\n", out.c_str());
  return absl::OkStatus();
}

absl::Status RunDataDebianPackages(const std::vector<std::string>&) {
  DebianPackagesOptions o;
  o.status_file = absl::GetFlag(FLAGS_dpkg_status);
  o.min_texts = absl::GetFlag(FLAGS_min_texts);
  ASSIGN_OR_RETURN(const Dataset packages, ReadDebianPackages(o));
  return WriteEvaluationTexts(packages, "data/debian-packages.tsv");
}

absl::Status RunDataFortunes(const std::vector<std::string>&) {
  FortunesOptions o;
  o.dir = absl::GetFlag(FLAGS_fortunes_dir);
  o.min_texts = absl::GetFlag(FLAGS_min_texts);
  ASSIGN_OR_RETURN(const Dataset fortunes, ReadFortunes(o));
  return WriteEvaluationTexts(fortunes, "data/fortunes.tsv");
}

absl::Status RunDataDictionary(const std::vector<std::string>&) {
  const std::string path = absl::GetFlag(FLAGS_dict);
  ASSIGN_OR_RETURN(const std::vector<std::string> texts, ReadDictionaryTexts(path));
  const std::string out = OutOr("data/gcide.txt");
  RETURN_IF_ERROR(WriteLines(texts, out));
  size_t bytes = 0;
  for (const std::string& text : texts) bytes += text.size();
  std::printf("wrote %s: %zu headwords, %.1f MB of definitions from %s\n", out.c_str(),
              texts.size(), bytes / 1e6, path.c_str());
  std::printf("unlabelled: vocab --corpus %s, pretrain --corpus %s\n", out.c_str(), out.c_str());
  return absl::OkStatus();
}

absl::Status RunDataInfo(const std::vector<std::string>& args) {
  const std::string path = args.empty() ? absl::GetFlag(FLAGS_data) : args[0];
  std::string meta;
  ASSIGN_OR_RETURN(Dataset data, LoadDataSpec(path, &meta));
  std::printf("%s\n  %s\n", path.c_str(), meta.c_str());
  PrintSummary(data);
  return absl::OkStatus();
}

absl::Status RunDataPreview(const std::vector<std::string>& args) {
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

}  // namespace

Command DataGlyphsCommand() {
  return {"data glyphs", "[--out data/glyphs.bin]",
          "Render the Omniglot-like glyph set from the installed fonts and split it by script.",
          "Characters are grouped into scripts by font family (Noto Sans/Serif Devanagari ->\n"
          "Devanagari) or, for blocks many fonts share, by Unicode block (Latin, Greek, Arrows).\n"
          "Instances vary by font, weight, affine and elastic distortion; 28x28, ink bright\n"
          "(--size and --channels resize them; in RGB each image has its own ink and\n"
          "background colours).\n"
          "Whole scripts go to meta-train / meta-val / meta-test. The cache is rebuilt only\n"
          "when the options or the installed fonts change.",
          {"out", "size", "channels", "font_dir", "instances", "max_classes_per_script",
           "min_classes_per_script",
           "max_scripts", "elastic_rms", "max_rotation", "seed", "threads", "train_fraction",
           "val_fraction", "split_seed", "force", "preview", "rows", "per_row"},
          RunDataGlyphs};
}

Command DataOmniglotCommand() {
  return {"data omniglot", "--root DIR[,DIR...] [--out data/omniglot.bin]",
          "Read Omniglot's layout (<alphabet>/<character>/*.png) into a cache, split by alphabet.",
          "Omniglot's dark-on-white images are inverted so ink is bright, and resized to 28x28\n"
          "grey (or --size, --channels). Pass images_background and images_evaluation\n"
          "together, comma-separated.",
          {"root", "out", "size", "channels", "resize_mode", "resize_shorter_side", "background",
           "max_per_class", "train_fraction", "val_fraction", "split_seed"},
          RunDataOmniglot};
}

Command DataFoldersCommand() {
  return {"data folders", "--root DIR [--out data/folders.bin]",
          "Read a class-folder image set (<class>/*.{png,jpg}) into a cache, split by class.",
          "Images become 28x28 grey, or --size H[,W] and --channels 1|3, with adaptd's own\n"
          "preprocessing (torchvision's Resize and CenterCrop semantics): what adaptd feeds a\n"
          "model with the same settings is what the cache holds. For a model taking 3x84x84:\n"
          "  adapt-train data folders --root photos --size 84 --channels 3 --out data/photos.bin",
          {"root", "out", "size", "channels", "resize_mode", "resize_shorter_side", "background",
           "max_per_class", "train_fraction", "val_fraction", "split_seed"},
          RunDataFolders};
}

Command DataClipartCommand() {
  return {"data clipart", "[--root /usr/share/openclipart/png[,DIR...]] [--out data/clipart.bin]",
          "Render clip-art exemplar classes (one per PNG, warped copies), split by category.",
          "Each drawing becomes a class of --clipart_instances randomly rotated, sheared,\n"
          "scaled and shifted renders: 28x28 grey by default, the filled shape bright on dark\n"
          "like the glyphs; with --channels 3 (and any --size) in its own colours on a random\n"
          "background. Grouped by category (the folder --category_depth levels down, e.g.\n"
          "animals/birds), categories split into meta-train/val/test, each weighing the same.\n"
          "As data/clipart.bin, `metatrain --extra_data` draws exemplar tasks from its\n"
          "meta-train split; as data/clipart.bin:groups, category tasks (make models uses both,\n"
          "and the meta-val categories to choose the meta-learner; `eval --cross_data` scores\n"
          "the meta-test categories). Needs the openclipart-png package, or any folders of\n"
          "PNGs: an icon theme's size folder works the same way, for example\n"
          "  --root /usr/share/icons/oxygen/base/48x48 --category_depth 1",
          {"root", "out", "size", "channels", "clipart_instances", "max_images", "category_depth",
           "seed", "threads", "train_fraction", "val_fraction", "split_seed", "force", "preview",
           "rows", "per_row"},
          RunDataClipart};
}

Command DataEmojiCommand() {
  return {"data emoji", "[--emoji_font FILE] [--out data/emoji.bin]",
          "Render colour emoji exemplar classes (one per emoji, warped copies), split by block.",
          "Every emoji of a colour bitmap font (fonts-noto-color-emoji) becomes a class of\n"
          "--clipart_instances warped renders, in colour on random backgrounds with\n"
          "--channels 3, else as a filled shape. Groups are runs of 64 code points of a\n"
          "Unicode block (related emoji together), split into meta-train/val/test.",
          {"emoji_font", "out", "size", "channels", "clipart_instances", "seed", "threads",
           "train_fraction", "val_fraction", "split_seed", "force", "preview", "rows", "per_row"},
          RunDataEmoji};
}

Command DataWordNetCommand() {
  return {"data wordnet", "[--wordnet_dir /usr/share/wordnet] [--out data/wordnet.tsv]",
          "Write a text corpus from WordNet's noun hierarchy: one class per subtree, as a TSV.",
          "From the root synset down, a synset whose subtree holds --min_synsets to\n"
          "--max_synsets synsets not yet taken becomes a class of them (larger ones are split\n"
          "among their hyponyms); its texts are each synset's definition (\"either of two\n"
          "Welsh breeds ...\"; --lemmas prefixes \"corgi, Welsh corgi: \") and example\n"
          "sentences. Labels are\n"
          "<lexicographer file>/<lemma> (noun.animal/dog), so the split by group keeps whole\n"
          "topics out of training. Needs Debian's wordnet-base.\n"
          "--levels_of data/wordnet.tsv keeps that corpus's meta-train files only, in one group,\n"
          "so that pretrain --extra_data trains on them all: with other --min_synsets and\n"
          "--max_synsets, coarser or finer labels for the same meta-train subtrees.",
          {"wordnet_dir", "min_synsets", "max_synsets", "lemmas", "levels_of", "out",
           "train_fraction", "val_fraction", "split_seed"},
          RunDataWordNet};
}

Command DataDebianPackagesCommand() {
  return {"data packages", "[--dpkg_status /var/lib/dpkg/status] [--out data/debian-packages.tsv]",
          "Write an evaluation-only text set from installed Debian packages' descriptions (TSV).",
          "One class per archive section (libs, python, admin, ...); its texts are the\n"
          "paragraphs of its packages' long descriptions. Paragraphs found in two sections\n"
          "and repeats are left out, and so are sections with fewer than --min_texts. For\n"
          "evaluation only, never for training: text of a domain no text model here is\n"
          "trained on (`eval --cross_data data/debian-packages.tsv:all`, every class).\n"
          "What it holds depends on the packages installed.",
          {"dpkg_status", "min_texts", "out"},
          RunDataDebianPackages};
}

Command DataFortunesCommand() {
  return {"data fortunes", "[--fortunes_dir /usr/share/games/fortunes] [--out data/fortunes.tsv]",
          "Write an evaluation-only text set from fortune files (TSV).",
          "One class per fortune file (computers, food, startrek, ...; Debian's fortunes and\n"
          "fortunes-min packages); its texts are the file's entries, lines joined by spaces.\n"
          "Entries found in two files and repeats are left out, and so are files with fewer\n"
          "than --min_texts. For evaluation only, never for training: quotations and jokes,\n"
          "text of a kind no text model here is trained on (`eval --cross_data\n"
          "data/fortunes.tsv:all`, every class).",
          {"fortunes_dir", "min_texts", "out"},
          RunDataFortunes};
}

Command DataDictionaryCommand() {
  return {"data dictionary", "[--dict /usr/share/dictd/gcide.dict.dz] [--out data/gcide.txt]",
          "Write a dictionary's definitions as unlabelled texts, one headword per line.",
          "Reads a dictd dictionary, by default Debian's dict-gcide (Webster's 1913 and\n"
          "additions). Pronunciations and bracketed notes are taken out, and paragraphs the\n"
          "dictionary took from WordNet are left out, so that WordNet's glosses (the text\n"
          "model's evaluation classes) do not enter this way. The lines feed `vocab --corpus`\n"
          "and `pretrain --corpus` (the token vectors of the encoder's semantic branch).",
          {"dict", "out"},
          RunDataDictionary};
}

Command DataInfoCommand() {
  return {"data info", "[FILE]", "Print what a data set cache holds and how it is split.", "",
          {"data"}, RunDataInfo};
}

Command DataPreviewCommand() {
  return {"data preview", "[FILE] [--out data/preview.png]",
          "Write a PNG grid of a cache's images, one class per row.", "",
          {"data", "out", "groups", "rows", "per_row"}, RunDataPreview};
}

}  // namespace adaptd::train
