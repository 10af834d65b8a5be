#include "train/png_out.h"

#include <algorithm>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "server/engine/input/image_ops.h"

extern "C" {
#include <stb/stb_image_write.h>
}

namespace adaptd::train {
namespace fs = std::filesystem;

absl::Status WritePngFile(const std::string& path, const uint8_t* pixels, int width, int height,
                          int channels) {
  std::string png;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &png, width, height, channels, pixels, width * channels)) {
    return absl::InternalError(absl::StrCat(path, ": could not encode PNG"));
  }
  return WriteFileAtomically(path, png);
}

absl::Status WriteClassPngs(const Dataset& data, const std::vector<std::string>& classes,
                            int per_class, int offset, const std::string& out_dir) {
  if (per_class < 1 || offset < 0) {
    return absl::InvalidArgumentError("per_class must be positive and offset not negative");
  }
  const auto by_class = data.IndicesByClass();
  for (const std::string& name : classes) {
    const auto it = std::find(data.class_names.begin(), data.class_names.end(), name);
    if (it == data.class_names.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown class \"", name, "\"; known: ",
                                                     absl::StrJoin(data.class_names, ",")));
    }
    const auto& indices = by_class[it - data.class_names.begin()];
    if (static_cast<size_t>(offset) + per_class > indices.size()) {
      return absl::InvalidArgumentError(absl::StrCat("offset + per_class exceeds the ",
                                                     indices.size(), " images of ", name));
    }
    for (int i = offset; i < offset + per_class; ++i) {
      RETURN_IF_ERROR(WriteDatasetImage(
          (fs::path(out_dir) / name / absl::StrCat(i, ".png")).string(), data, indices[i]));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteDatasetImage(const std::string& path, const Dataset& data, int64_t index) {
  const ImageShape& shape = data.shape;
  const engine::Pixels hwc =
      engine::FromCHW(data.image(index), shape.channels, shape.height, shape.width);
  return WritePngFile(path, hwc.data.data(), shape.width, shape.height, shape.channels);
}

absl::Status WriteImageGrid(const std::string& path, const Dataset& data,
                            const std::vector<int32_t>& classes, int per_row) {
  const ImageShape& shape = data.shape;
  const int channels = shape.channels;
  const int64_t plane = int64_t{shape.height} * shape.width;
  const int cell_w = shape.width + 1, cell_h = shape.height + 1;
  const int width = per_row * cell_w + 1;
  const int height = static_cast<int>(classes.size()) * cell_h + 1;
  std::vector<uint8_t> grid(static_cast<size_t>(width) * height * channels, 96);
  const auto by_class = data.IndicesByClass();
  for (size_t row = 0; row < classes.size(); ++row) {
    const auto& indices = by_class.at(classes[row]);
    for (int col = 0; col < per_row && col < static_cast<int>(indices.size()); ++col) {
      const uint8_t* image = data.image(indices[col]);
      for (int y = 0; y < shape.height; ++y) {
        for (int x = 0; x < shape.width; ++x) {
          const size_t at = ((row * cell_h + 1 + y) * width + col * cell_w + 1 + x) * channels;
          for (int c = 0; c < channels; ++c) grid[at + c] = image[c * plane + y * shape.width + x];
        }
      }
    }
  }
  return WritePngFile(path, grid.data(), width, height, channels);
}

}  // namespace adaptd::train
