#include "train/clipart.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "train/random.h"

#include <stb/stb_image.h>

namespace adaptd::train {
namespace {

namespace fs = std::filesystem;

struct Drawing {
  fs::path path;
  std::string group;  // Its category: up to `category_depth` folders below its root.
  std::string name;   // Path below the root; below the filesystem's root with several roots.
};

std::vector<std::string> Roots(const std::string& list) {
  std::vector<std::string> roots = absl::StrSplit(list, ',', absl::SkipWhitespace());
  std::sort(roots.begin(), roots.end());
  roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
  return roots;
}

void ListDrawings(const fs::path& root, int category_depth, bool full_names,
                  std::vector<Drawing>* out) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file() ||
        absl::AsciiStrToLower(it->path().extension().string()) != ".png") {
      continue;
    }
    const fs::path rel = it->path().lexically_relative(root);
    fs::path group;
    int depth = 0;
    for (auto part = rel.begin(); part != rel.end() && std::next(part) != rel.end() &&
                                  depth < category_depth;
         ++part, ++depth) {
      group /= *part;
    }
    out->push_back({it->path(), group.empty() ? std::string("(root)") : group.generic_string(),
                    full_names ? it->path().generic_string() : rel.generic_string()});
  }
}

absl::StatusOr<RgbaImage> DecodePng(const fs::path& path) {
  ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path.string()));
  if (bytes.empty() || bytes.size() > (1u << 28)) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": empty or too large"));
  }
  RgbaImage image;
  int comp = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> rgba(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                            static_cast<int>(bytes.size()), &image.width, &image.height, &comp, 4),
      stbi_image_free);
  if (!rgba || image.width <= 0 || image.height <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": not a PNG"));
  }
  image.pixels.assign(rgba.get(), rgba.get() + int64_t{image.width} * image.height * 4);
  return image;
}

std::vector<Drawing> Chosen(const ClipartOptions& o) {
  std::vector<Drawing> drawings;
  const std::vector<std::string> roots = Roots(o.root);
  for (const std::string& root : roots) {
    ListDrawings(root, o.category_depth, roots.size() > 1, &drawings);
  }
  auto by_name = [](const Drawing& a, const Drawing& b) { return a.name < b.name; };
  std::sort(drawings.begin(), drawings.end(), by_name);
  if (o.max_images > 0 && static_cast<int>(drawings.size()) > o.max_images) {
    Rng rng(MixSeed(o.render.seed, {Fnv1a("clipart-choice")}));
    for (size_t i = drawings.size() - 1; i > 0; --i) {
      std::swap(drawings[i], drawings[rng.Below(i + 1)]);
    }
    drawings.resize(o.max_images);
    std::sort(drawings.begin(), drawings.end(), by_name);
  }
  return drawings;
}

}  // namespace

std::string ClipartFingerprint(const ClipartOptions& o) {
  std::vector<Drawing> drawings = Chosen(o);
  uint64_t h = Fnv1a("");
  for (const auto& d : drawings) {
    std::error_code ec;
    const auto size = fs::file_size(d.path, ec);
    h = Fnv1a(absl::StrCat(d.name, ":", ec ? 0 : size, ";"), h);
  }
  return absl::StrFormat("clipart root=%s drawings=%d listing=%016x depth=%d %s", o.root,
                         drawings.size(), h, o.category_depth, ExemplarFingerprint(o.render));
}

absl::StatusOr<Dataset> RenderClipart(const ClipartOptions& o, int* skipped,
                                      const std::function<void(int done, int total)>& progress) {
  const std::vector<Drawing> drawings = Chosen(o);
  if (drawings.empty()) {
    return absl::NotFoundError(absl::StrCat("clipart root ", o.root, ": no .png files"));
  }
  std::vector<Picture> pictures;
  for (const Drawing& d : drawings) {
    pictures.push_back({d.name, d.group, [path = d.path] { return DecodePng(path); }});
  }
  absl::StatusOr<Dataset> data = RenderExemplars(pictures, o.render, skipped, progress);
  if (absl::IsNotFound(data.status())) {
    return absl::NotFoundError(absl::StrCat("clipart root ", o.root, ": no drawable .png files"));
  }
  return data;
}

}  // namespace adaptd::train
