// PNG output: single images, class-folder sets (the layout adaptctl and
// LoadClassFolders read) and preview grids. Every file is written
// atomically (a temp file renamed over it), its folders made as needed.
// No LibTorch. Thread-safe (for distinct paths).
#ifndef ADAPTD_TRAIN_PNG_OUT_H_
#define ADAPTD_TRAIN_PNG_OUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "train/dataset.h"

namespace adaptd::train {

// Writes `width` x `height` pixels of `channels` bytes each (1: gray, 3:
// RGB), rows packed, as PNG. INTERNAL when encoding fails; write errors as
// adaptd::WriteFileAtomically reports them.
absl::Status WritePngFile(const std::string& path, const uint8_t* pixels, int width, int height,
                          int channels);
// Writes image `index` of `data`, in its shape and colour, as PNG.
absl::Status WriteDatasetImage(const std::string& path, const Dataset& data, int64_t index);
// Writes images `offset` .. offset+per_class-1 (in data set order) of each
// named class as out_dir/<class>/<i>.png. INVALID_ARGUMENT for an unknown
// class or one with too few images.
absl::Status WriteClassPngs(const Dataset& data, const std::vector<std::string>& classes,
                            int per_class, int offset, const std::string& out_dir);
// Writes a grid: one row per class in `classes`, up to `per_row` images of
// each, 1 pixel apart.
absl::Status WriteImageGrid(const std::string& path, const Dataset& data,
                            const std::vector<int32_t>& classes, int per_row);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_PNG_OUT_H_
