#include "train/glyphs.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/status_macros.h"
#include "server/common/thread_pool.h"
#include "train/glyph_fonts.h"
#include "train/glyph_renderer.h"
#include "train/loaders.h"
#include "train/random.h"

namespace adaptd::train {
namespace fs = std::filesystem;

namespace {

constexpr int kFeatureSide = 14;  // Canonical renders compared at 14x14.

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// A canonical render reduced to 14x14, centred and unit-norm, so a dot
// product is a correlation. Empty when the render is blank.
std::vector<float> Signature(const uint8_t* image) {
  std::vector<float> f(kFeatureSide * kFeatureSide, 0.f);
  const int k = kImageSide / kFeatureSide;
  for (int y = 0; y < kImageSide; ++y) {
    for (int x = 0; x < kImageSide; ++x) f[(y / k) * kFeatureSide + x / k] += image[y * kImageSide + x];
  }
  double mean = 0;
  for (float v : f) mean += v;
  mean /= f.size();
  double norm = 0;
  for (float& v : f) {
    v -= static_cast<float>(mean);
    norm += v * v;
  }
  if (norm < 1e-6) return {};
  const float inv = static_cast<float>(1 / std::sqrt(norm));
  for (float& v : f) v *= inv;
  return f;
}

float Dot(const std::vector<float>& a, const float* b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

struct ChosenClass {
  int script = 0;  // Index into the chosen scripts.
  uint32_t cp = 0;
  std::vector<int> fonts;  // Fonts that draw it; the first is canonical.
};

// The characters chosen: scripts in the seeded order they were taken, and
// their classes.
struct Selection {
  std::vector<std::string> scripts;
  std::vector<ChosenClass> chosen;
};

// Canonical renders of the classes chosen so far, to keep look-alikes out.
class Signatures {
 public:
  explicit Signatures(double max_similarity) : max_similarity_(max_similarity) {}
  // Adds `image`'s signature unless it is blank or like one already in.
  bool AddIfNew(const uint8_t* image) {
    std::vector<float> sig = Signature(image);
    if (sig.empty()) return false;
    for (size_t s = 0; s < flat_.size(); s += sig.size()) {
      if (Dot(sig, &flat_[s]) > max_similarity_) return false;
    }
    flat_.insert(flat_.end(), sig.begin(), sig.end());
    return true;
  }
  size_t mark() const { return flat_.size(); }
  void Rewind(size_t mark) { flat_.resize(mark); }

 private:
  double max_similarity_;
  std::vector<float> flat_;  // Signatures, one after another.
};

// Takes up to max_classes_per_script of `script`'s candidates, in a seeded
// order, that some font draws and that look like nothing chosen so far.
// Returns how many it added to `selection`.
int ChooseFromScript(const std::string& script, std::vector<Candidate> candidates,
                     const std::vector<FontFace>& fonts, const GlyphOptions& options,
                     Renderer& selector, Signatures& signatures, Selection* selection) {
  Rng rng(MixSeed(options.seed, {Fnv1a(script)}));
  rng.Shuffle(candidates);
  int added = 0;
  uint8_t image[kImagePixels];
  for (const Candidate& candidate : candidates) {
    if (added >= options.max_classes_per_script) break;
    ChosenClass c;
    c.script = static_cast<int>(selection->scripts.size());
    c.cp = candidate.cp;
    for (int f : candidate.fonts) {
      if (selector.Usable(f, candidate.cp)) c.fonts.push_back(f);
    }
    if (c.fonts.empty()) continue;
    // Canonical font: a regular style where there is one.
    std::stable_partition(c.fonts.begin(), c.fonts.end(),
                          [&](int f) { return fonts[f].style == "Regular"; });
    if (!selector.Render(c.fonts[0], c.cp, nullptr, options, nullptr, image)) continue;
    if (!signatures.AddIfNew(image)) continue;
    selection->chosen.push_back(std::move(c));
    ++added;
  }
  return added;
}

// Chooses characters script by script, in a seeded order, against the
// canonical renders of everything chosen so far; a script with fewer than
// min_classes_per_script is left out.
absl::StatusOr<Selection> ChooseClasses(
    const std::vector<FontFace>& fonts,
    const std::map<std::string, std::vector<Candidate>>& by_script, const GlyphOptions& options) {
  std::vector<std::string> order;
  for (const auto& [script, candidates] : by_script) order.push_back(script);
  Rng order_rng(MixSeed(options.seed, {Fnv1a("script-order")}));
  order_rng.Shuffle(order);
  Renderer selector(fonts);
  RETURN_IF_ERROR(selector.Init());
  Signatures signatures(options.max_similarity);
  Selection selection;
  for (const std::string& script : order) {
    if (options.max_scripts > 0 &&
        static_cast<int>(selection.scripts.size()) >= options.max_scripts) {
      break;
    }
    const size_t mark = selection.chosen.size();
    const size_t sig_mark = signatures.mark();
    const int added = ChooseFromScript(script, by_script.at(script), fonts, options, selector,
                                       signatures, &selection);
    if (added < options.min_classes_per_script) {
      selection.chosen.resize(mark);
      signatures.Rewind(sig_mark);
      continue;
    }
    selection.scripts.push_back(script);
  }
  if (selection.scripts.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "glyphs: no script has ", options.min_classes_per_script, " usable characters under ",
        options.font_dir));
  }
  return selection;
}

// Sorts the chosen classes by script name, then code point, for readable
// caches; returns each script's rank in that order.
std::vector<int> SortByScript(Selection* selection) {
  const std::vector<std::string>& scripts = selection->scripts;
  std::vector<int> idx(scripts.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int>(i);
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return scripts[a] < scripts[b]; });
  std::vector<int> rank(scripts.size());
  for (size_t r = 0; r < idx.size(); ++r) rank[idx[r]] = static_cast<int>(r);
  std::sort(selection->chosen.begin(), selection->chosen.end(),
            [&](const ChosenClass& a, const ChosenClass& b) {
              return std::make_pair(rank[a.script], a.cp) < std::make_pair(rank[b.script], b.cp);
            });
  return rank;
}

int FontsUsed(const Selection& selection, size_t fonts) {
  std::vector<int> used(fonts, 0);
  for (const auto& c : selection.chosen) {
    for (int f : c.fonts) used[f] = 1;
  }
  return static_cast<int>(std::count(used.begin(), used.end(), 1));
}

// The data set's groups and classes, with room for `instances` images of
// each class.
Dataset EmptyDataset(const Selection& selection, const std::vector<int>& script_rank,
                     int instances) {
  Dataset data;
  std::vector<std::string> sorted_scripts = selection.scripts;
  std::sort(sorted_scripts.begin(), sorted_scripts.end());
  for (const auto& s : sorted_scripts) data.AddGroup(s);
  for (const auto& c : selection.chosen) {
    data.AddClass(absl::StrFormat("%s/U+%04X", selection.scripts[c.script], c.cp),
                  script_rank[c.script]);
  }
  data.labels.resize(selection.chosen.size() * static_cast<size_t>(instances));
  data.pixels.resize(data.labels.size() * kImagePixels);
  return data;
}

// Renders every instance into `data`. Classes are handed out to threads,
// each with its own Renderer; each instance draws from its own seed, so the
// result does not depend on the thread count. Stops early after the first
// error. `progress` is called from the calling thread only.
absl::Status RenderInstances(const std::vector<FontFace>& fonts, const Selection& selection,
                             const GlyphOptions& options,
                             const std::function<void(int, int)>& progress, Dataset* data) {
  const int num_classes = static_cast<int>(selection.chosen.size());
  const int threads =
      std::min(options.threads > 0 ? options.threads : HardwareThreads(), num_classes);
  std::vector<std::unique_ptr<Renderer>> renderers;
  for (int t = 0; t < threads; ++t) {
    renderers.push_back(std::make_unique<Renderer>(fonts));
    RETURN_IF_ERROR(renderers.back()->Init());
  }
  std::atomic<int> done{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  absl::Status error;
  ParallelFor(num_classes, threads, [&](int k, int worker) {
    if (failed.load()) return;
    Renderer& renderer = *renderers[worker];
    const ChosenClass& c = selection.chosen[k];
    for (int i = 0; i < options.instances; ++i) {
      const int64_t index = static_cast<int64_t>(k) * options.instances + i;
      Rng rng(MixSeed(options.seed,
                      {c.cp, Fnv1a(selection.scripts[c.script]), static_cast<uint64_t>(i)}));
      const int font = c.fonts[rng.Below(c.fonts.size())];
      const Distortion d = DrawDistortion(options, rng);
      uint8_t* out = &data->pixels[index * kImagePixels];
      if (!renderer.Render(font, c.cp, &d, options, &rng, out) &&
          !renderer.Render(c.fonts[0], c.cp, &d, options, &rng, out)) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (error.ok()) {
          error = absl::InternalError(absl::StrFormat("glyphs: cannot render U+%04X with %s", c.cp,
                                                      fonts[c.fonts[0]].path));
        }
        failed.store(true);
        return;
      }
      data->labels[index] = k;
    }
    const int finished = ++done;
    if (worker == 0 && progress) progress(finished, num_classes);
  });
  if (failed.load()) return error;
  if (progress) progress(num_classes, num_classes);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> GlyphFingerprint(const GlyphOptions& o) {
  uint64_t h = Fnv1a("fonts");
  int count = 0;
  for (const auto& file : FontFiles(o.font_dir)) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    h = Fnv1a(absl::StrCat(file.string(), ":", ec ? 0 : size, ";"), h);
    ++count;
  }
  if (count == 0) return absl::NotFoundError(absl::StrCat("font_dir: no fonts under ", o.font_dir));
  return absl::StrFormat(
      "glyphs renderer=%d seed=%d instances=%d max_classes_per_script=%d "
      "min_classes_per_script=%d max_scripts=%d max_similarity=%g rotation=%g shear=%g "
      "scale=%g aspect=%g shift=%g embolden=[%g,%g] elastic=%g/%g fonts=%d:%016x",
      kGlyphRendererVersion, o.seed, o.instances, o.max_classes_per_script, o.min_classes_per_script,
      o.max_scripts, o.max_similarity, o.max_rotation_degrees, o.max_shear, o.scale_jitter,
      o.aspect_jitter, o.max_shift, o.min_embolden, o.max_embolden, o.elastic_rms,
      o.elastic_sigma, count, h) +
         (o.shape == ImageShape{} ? "" : " images=" + ShapeText(o.shape));
}

// RGB glyphs: every image's ink and background get their own random
// colours, at least 64 levels of luma apart so the glyph stays legible.
void ColourInk(uint64_t seed, Dataset* data) {
  const int64_t plane = int64_t{data->shape.height} * data->shape.width;
  for (int64_t i = 0; i < data->size(); ++i) {
    Rng rng(MixSeed(seed, {static_cast<uint64_t>(i), Fnv1a("glyph-colours")}));
    double ink[3], paper[3];
    auto luma = [](const double* c) { return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]; };
    do {
      for (int c = 0; c < 3; ++c) ink[c] = static_cast<double>(rng.Below(256));
      for (int c = 0; c < 3; ++c) paper[c] = static_cast<double>(rng.Below(256));
    } while (std::abs(luma(ink) - luma(paper)) < 64);
    uint8_t* image = data->pixels.data() + i * data->shape.bytes();
    for (int64_t p = 0; p < plane; ++p) {
      const double a = image[p] / 255.0;  // Grey repeated in all three planes.
      for (int c = 0; c < 3; ++c) {
        image[c * plane + p] = static_cast<uint8_t>(std::lround(paper[c] + a * (ink[c] - paper[c])));
      }
    }
  }
}

absl::StatusOr<Dataset> RenderGlyphs(const GlyphOptions& options, GlyphReport* report,
                                     const std::function<void(int, int)>& progress) {
  if (options.instances < 1 || options.max_classes_per_script < 1 ||
      options.min_classes_per_script < 1 ||
      options.min_classes_per_script > options.max_classes_per_script) {
    return absl::InvalidArgumentError(
        "glyphs: need instances >= 1 and 1 <= min_classes_per_script <= max_classes_per_script");
  }
  GlyphReport local;
  if (report == nullptr) report = &local;
  *report = GlyphReport();
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::vector<FontFace> fonts, DiscoverFonts(options.font_dir));
  const auto by_script = CandidatesByScript(fonts);
  report->candidate_scripts = static_cast<int>(by_script.size());
  ASSIGN_OR_RETURN(Selection selection, ChooseClasses(fonts, by_script, options));
  const std::vector<int> script_rank = SortByScript(&selection);
  report->fonts = FontsUsed(selection, fonts.size());
  report->select_seconds = Seconds(start);

  Dataset data = EmptyDataset(selection, script_rank, options.instances);
  const auto render_start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(RenderInstances(fonts, selection, options, progress, &data));
  report->scripts = data.num_groups();
  report->classes = data.num_classes();
  report->images = data.size();
  report->render_seconds = Seconds(render_start);
  if (options.shape == ImageShape{}) return data;
  if (options.shape.channels != 1 && options.shape.channels != 3) {
    return absl::InvalidArgumentError("shape: glyphs are grey (1 channel) or RGB (3)");
  }
  data = ReshapeImages(std::move(data), options.shape);
  if (options.shape.channels == 3) ColourInk(options.seed, &data);
  return data;
}

}  // namespace adaptd::train
