#include "train/loaders.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "server/engine/input/image_ops.h"


namespace adaptd::train {
namespace fs = std::filesystem;

namespace {

bool IsImageFile(const fs::path& p) {
  const std::string ext = absl::AsciiStrToLower(p.extension().string());
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// Sorted sub-folders or image files of `dir`.
absl::StatusOr<std::vector<fs::path>> ListSorted(const fs::path& dir, bool folders) {
  std::error_code ec;
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (folders ? entry.is_directory() : (entry.is_regular_file() && IsImageFile(entry.path()))) {
      out.push_back(entry.path());
    }
  }
  if (ec) return absl::NotFoundError(absl::StrCat(dir.string(), ": ", ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

// Loads the images of one class folder into `data` under class `label`.
absl::Status LoadClassImages(const fs::path& dir, int32_t label, const ImageLoadOptions& options,
                             Dataset* data) {
  ASSIGN_OR_RETURN(std::vector<fs::path> files, ListSorted(dir, /*folders=*/false));
  int loaded = 0;
  for (const auto& file : files) {
    if (options.max_per_class > 0 && loaded >= options.max_per_class) break;
    ASSIGN_OR_RETURN(std::string bytes, ReadFile(file.string()));
    auto image = DecodeForCache(bytes, options);
    if (!image.ok()) {
      return absl::Status(image.status().code(),
                          absl::StrCat(file.string(), ": ", image.status().message()));
    }
    data->AddImage(label, image->data());
    ++loaded;
  }
  return absl::OkStatus();
}

}  // namespace

ImageShape ShapeOf(const ImageLoadOptions& options) {
  return {options.image.channels, options.image.resize_height, options.image.resize_width};
}

absl::StatusOr<std::vector<uint8_t>> DecodeForCache(const std::string& bytes,
                                                    const ImageLoadOptions& options) {
  ASSIGN_OR_RETURN(engine::Pixels decoded,
                   engine::DecodePixels(bytes, int64_t{1} << 30, int64_t{1} << 28));
  bool invert = options.invert == ImageLoadOptions::Invert::kAlways;
  if (options.invert == ImageLoadOptions::Invert::kAuto) {
    // Dark ink on bright paper: the border, in grey, is mostly bright.
    const engine::Pixels grey = engine::ToColour(decoded, 1, {0, 0, 0});
    int64_t sum = 0, n = 0;
    for (int y = 0; y < grey.height; ++y) {
      for (int x = 0; x < grey.width; ++x) {
        if (y == 0 || y == grey.height - 1 || x == 0 || x == grey.width - 1) {
          sum += grey.at(y, x, 0);
          ++n;
        }
      }
    }
    invert = sum > 127 * n;
  }
  std::vector<uint8_t> out = engine::ToCHW(engine::PrepareImage(decoded, options.image));
  if (invert) {
    for (auto& p : out) p = static_cast<uint8_t>(255 - p);
  }
  return out;
}

Dataset ReshapeImages(Dataset data, const ImageShape& shape) {
  if (data.shape == shape) return data;
  engine::Preprocessing to;
  to.channels = shape.channels;
  to.resize_height = shape.height;
  to.resize_width = shape.width;
  const ImageShape from = data.shape;
  std::vector<uint8_t> pixels;
  pixels.reserve(static_cast<size_t>(data.size() * shape.bytes()));
  for (int64_t i = 0; i < data.size(); ++i) {
    const engine::Pixels p = engine::FromCHW(data.image(i), from.channels, from.height, from.width);
    const std::vector<uint8_t> reshaped = engine::ToCHW(engine::PrepareImage(p, to));
    pixels.insert(pixels.end(), reshaped.begin(), reshaped.end());
  }
  data.shape = shape;
  data.pixels = std::move(pixels);
  return data;
}

absl::StatusOr<Dataset> LoadOmniglot(const std::string& root, ImageLoadOptions options) {
  ASSIGN_OR_RETURN(std::vector<fs::path> alphabets, ListSorted(root, /*folders=*/true));
  Dataset data;
  data.shape = ShapeOf(options);
  for (const auto& alphabet : alphabets) {
    ASSIGN_OR_RETURN(std::vector<fs::path> characters, ListSorted(alphabet, /*folders=*/true));
    if (characters.empty()) continue;
    const int32_t group = data.AddGroup(alphabet.filename().string());
    for (const auto& character : characters) {
      const int32_t label = data.AddClass(
          absl::StrCat(alphabet.filename().string(), "/", character.filename().string()), group);
      RETURN_IF_ERROR(LoadClassImages(character, label, options, &data));
    }
  }
  if (data.num_classes() == 0) {
    return absl::NotFoundError(
        absl::StrCat(root, ": no <alphabet>/<character>/ folders (Omniglot layout)"));
  }
  return data;
}

absl::StatusOr<Dataset> LoadClassFolders(const std::string& root, ImageLoadOptions options) {
  ASSIGN_OR_RETURN(std::vector<fs::path> classes, ListSorted(root, /*folders=*/true));
  Dataset data;
  data.shape = ShapeOf(options);
  for (const auto& dir : classes) {
    const std::string name = dir.filename().string();
    const int32_t label = data.AddClass(name, data.AddGroup(name));
    RETURN_IF_ERROR(LoadClassImages(dir, label, options, &data));
  }
  if (data.num_classes() == 0) {
    return absl::NotFoundError(absl::StrCat(root, ": no <class>/ folders"));
  }
  return data;
}

absl::StatusOr<IdxArray> ReadIdx(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");  // Reads plain files too.
  if (f == nullptr) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::unique_ptr<gzFile_s, int (*)(gzFile)> closer(f, gzclose);
  auto read = [&](void* out, size_t n) -> absl::Status {
    auto* p = static_cast<char*>(out);
    while (n > 0) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n, 1u << 30));
      const int got = gzread(f, p, chunk);
      if (got <= 0) {
        int err = 0;
        const char* message = gzerror(f, &err);
        return absl::DataLossError(
            absl::StrCat(path, ": ", err != Z_OK ? message : "truncated"));
      }
      p += got;
      n -= static_cast<size_t>(got);
    }
    return absl::OkStatus();
  };
  uint8_t header[4];
  RETURN_IF_ERROR(read(header, 4));
  if (header[0] != 0 || header[1] != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an IDX file"));
  }
  if (header[2] != 0x08) {
    return absl::UnimplementedError(
        absl::StrCat(path, ": IDX type 0x", absl::Hex(header[2]), "; only unsigned bytes (0x08)"));
  }
  const int ndim = header[3];
  if (ndim < 1 || ndim > 8) return absl::InvalidArgumentError(absl::StrCat(path, ": bad rank ", ndim));
  IdxArray out;
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) {
    uint8_t b[4];
    RETURN_IF_ERROR(read(b, 4));
    const int64_t dim = (int64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    if (dim <= 0 || total > (int64_t{1} << 34) / dim) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": bad dimension ", dim));
    }
    total *= dim;
    out.dims.push_back(dim);
  }
  out.data.resize(static_cast<size_t>(total));
  RETURN_IF_ERROR(read(out.data.data(), out.data.size()));
  return out;
}

const std::vector<std::string>& FashionMnistClassNames() {
  static const auto* names = new std::vector<std::string>{
      "t-shirt", "trouser", "pullover", "dress", "coat",
      "sandal",  "shirt",   "sneaker",  "bag",   "ankle-boot"};
  return *names;
}

absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir, bool test_split) {
  const std::string prefix = test_split ? "t10k" : "train";
  const std::string images_path = (fs::path(dir) / (prefix + "-images-idx3-ubyte.gz")).string();
  const std::string labels_path = (fs::path(dir) / (prefix + "-labels-idx1-ubyte.gz")).string();
  ASSIGN_OR_RETURN(IdxArray images, ReadIdx(images_path));
  ASSIGN_OR_RETURN(IdxArray labels, ReadIdx(labels_path));
  if (images.dims.size() != 3 || images.dims[1] != kImageSide || images.dims[2] != kImageSide) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, ": expected N x 28 x 28 images"));
  }
  if (labels.dims.size() != 1 || labels.dims[0] != images.dims[0]) {
    return absl::InvalidArgumentError(
        absl::StrCat(labels_path, ": expected one label per image (", images.dims[0], ")"));
  }
  Dataset data;
  const int32_t group = data.AddGroup("fashion-mnist");
  for (const auto& name : FashionMnistClassNames()) data.AddClass(name, group);
  data.labels.reserve(labels.data.size());
  for (uint8_t l : labels.data) {
    if (l >= data.num_classes()) {
      return absl::InvalidArgumentError(absl::StrCat(labels_path, ": label ", l, " out of range"));
    }
    data.labels.push_back(l);
  }
  data.pixels = std::move(images.data);
  return data;
}

}  // namespace adaptd::train
