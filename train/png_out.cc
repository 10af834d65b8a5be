#include "train/png_out.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"

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

absl::Status WritePng(const std::string& path, const uint8_t* image, int width, int height) {
  return WritePngFile(path, image, width, height, /*channels=*/1);
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
      RETURN_IF_ERROR(WritePng((fs::path(out_dir) / name / absl::StrCat(i, ".png")).string(),
                               data.image(indices[i])));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteImageGrid(const std::string& path, const Dataset& data,
                            const std::vector<int32_t>& classes, int per_row) {
  const int cell = kImageSide + 1;
  const int width = per_row * cell + 1;
  const int height = static_cast<int>(classes.size()) * cell + 1;
  std::vector<uint8_t> grid(static_cast<size_t>(width) * height, 96);
  const auto by_class = data.IndicesByClass();
  for (size_t row = 0; row < classes.size(); ++row) {
    const auto& indices = by_class.at(classes[row]);
    for (int col = 0; col < per_row && col < static_cast<int>(indices.size()); ++col) {
      const uint8_t* image = data.image(indices[col]);
      for (int y = 0; y < kImageSide; ++y) {
        std::memcpy(&grid[(row * cell + 1 + y) * width + col * cell + 1], image + y * kImageSide,
                    kImageSide);
      }
    }
  }
  return WritePng(path, grid.data(), width, height);
}

}  // namespace adaptd::train
