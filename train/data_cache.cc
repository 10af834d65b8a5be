#include "train/data_cache.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/common/crc32.h"
#include "server/common/file_util.h"
#include "server/common/status_macros.h"
#include "train/text_data.h"

namespace adaptd::train {
namespace {

constexpr char kMagic[8] = {'A', 'D', 'P', 'T', 'D', 'S', 'E', 'T'};
// Version 1 held 28x28 grey images only (one side length); version 2 holds
// any [channels, height, width].
constexpr uint32_t kVersion = 2;

class Writer {
 public:
  void U8(uint8_t v) { buf_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void Str(const std::string& s) {
    U32(static_cast<uint32_t>(s.size()));
    buf_ += s;
  }
  void Bytes(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
  std::string& buffer() { return buf_; }

 private:
  std::string buf_;
};

class Reader {
 public:
  Reader(const std::string& path, const std::string& data, size_t end)
      : path_(path), data_(data), end_(end) {}
  absl::Status Need(size_t n) {
    if (end_ - pos_ < n) return absl::DataLossError(absl::StrCat(path_, ": truncated"));
    return absl::OkStatus();
  }
  absl::StatusOr<uint8_t> U8() {
    RETURN_IF_ERROR(Need(1));
    return static_cast<uint8_t>(data_[pos_++]);
  }
  absl::StatusOr<uint32_t> U32() {
    RETURN_IF_ERROR(Need(4));
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(data_[pos_++])) << (8 * i);
    return v;
  }
  absl::StatusOr<uint64_t> U64() {
    RETURN_IF_ERROR(Need(8));
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_++])) << (8 * i);
    return v;
  }
  absl::StatusOr<std::string> Str() {
    ASSIGN_OR_RETURN(uint32_t n, U32());
    RETURN_IF_ERROR(Need(n));
    std::string s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  absl::Status Bytes(void* out, size_t n) {
    RETURN_IF_ERROR(Need(n));
    std::memcpy(out, data_.data() + pos_, n);
    pos_ += n;
    return absl::OkStatus();
  }
  size_t pos() const { return pos_; }

 private:
  const std::string& path_;
  const std::string& data_;
  size_t end_;
  size_t pos_ = 0;
};

// The header's meta text; `shape` (may be null) gets the images' shape.
absl::StatusOr<std::string> ReadHeader(Reader& r, const std::string& path, ImageShape* shape) {
  char magic[8];
  RETURN_IF_ERROR(r.Bytes(magic, 8));
  if (std::memcmp(magic, kMagic, 8) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an adapt-train data set"));
  }
  ASSIGN_OR_RETURN(uint32_t version, r.U32());
  ImageShape read;
  if (version == 1) {
    ASSIGN_OR_RETURN(uint32_t side, r.U32());
    if (side != kImageSide) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": images are ", side, "x", side));
    }
  } else if (version == kVersion) {
    ASSIGN_OR_RETURN(uint32_t channels, r.U32());
    ASSIGN_OR_RETURN(uint32_t height, r.U32());
    ASSIGN_OR_RETURN(uint32_t width, r.U32());
    if ((channels != 1 && channels != 3) || height < 1 || height > 4096 || width < 1 ||
        width > 4096) {
      return absl::DataLossError(
          absl::StrCat(path, ": bad image shape ", channels, "x", height, "x", width));
    }
    read = {static_cast<int>(channels), static_cast<int>(height), static_cast<int>(width)};
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": data set version ", version, ", expected 1 or ", kVersion));
  }
  if (shape != nullptr) *shape = read;
  return r.Str();
}

}  // namespace

absl::Status SaveDataset(const Dataset& data, const std::string& meta, const std::string& path) {
  if (data.modality == Modality::kText) {
    return absl::InvalidArgumentError(
        "a text set is kept as a TSV (label<TAB>text), not in an image cache");
  }
  RETURN_IF_ERROR(data.Validate());
  Writer w;
  w.Bytes(kMagic, 8);
  w.U32(kVersion);
  w.U32(static_cast<uint32_t>(data.shape.channels));
  w.U32(static_cast<uint32_t>(data.shape.height));
  w.U32(static_cast<uint32_t>(data.shape.width));
  w.Str(meta);
  w.U32(static_cast<uint32_t>(data.num_groups()));
  for (int g = 0; g < data.num_groups(); ++g) {
    w.Str(data.group_names[g]);
    w.U8(static_cast<uint8_t>(data.group_splits.empty() ? Split::kUnassigned : data.group_splits[g]));
  }
  w.U32(static_cast<uint32_t>(data.num_classes()));
  for (int c = 0; c < data.num_classes(); ++c) {
    w.U32(static_cast<uint32_t>(data.class_groups[c]));
    w.Str(data.class_names[c]);
  }
  w.U64(static_cast<uint64_t>(data.size()));
  for (int32_t l : data.labels) w.U32(static_cast<uint32_t>(l));
  w.Bytes(data.pixels.data(), data.pixels.size());
  w.U32(Crc32(w.buffer()));
  return WriteFileAtomically(path, w.buffer(), {absl::StrCat(".tmp.", getpid())});
}

absl::StatusOr<Dataset> LoadDataSpec(absl::string_view spec, std::string* meta) {
  const bool all = absl::ConsumeSuffix(&spec, ":all");
  const bool groups = absl::ConsumeSuffix(&spec, ":groups");
  const std::string path(spec);
  Dataset data;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    ASSIGN_OR_RETURN(data, LoadTextFolders(path, TextLoadOptions{}));
  } else if (absl::EndsWith(path, ".tsv")) {
    ASSIGN_OR_RETURN(data, LoadTextTsv(path, TextLoadOptions{}));
  } else {
    ASSIGN_OR_RETURN(data, LoadDataset(path, meta));
  }
  if (meta != nullptr && data.modality == Modality::kText && meta->empty()) *meta = path;
  if (groups) data = GroupsAsClasses(data);
  if (all) data.group_splits.clear();
  return data;
}

absl::StatusOr<std::string> ReadDatasetMeta(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string head(1 << 16, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  Reader r(path, head, head.size());
  return ReadHeader(r, path, nullptr);
}

absl::StatusOr<Dataset> LoadDataset(const std::string& path, std::string* meta) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  if (bytes.size() < 12) return absl::DataLossError(absl::StrCat(path, ": truncated"));
  const size_t body = bytes.size() - 4;
  Reader in(path, bytes, body);
  Dataset data;
  ASSIGN_OR_RETURN(std::string text, ReadHeader(in, path, &data.shape));
  uint32_t stored_crc = 0;
  for (int i = 0; i < 4; ++i) stored_crc |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[body + i])) << (8 * i);
  if (Crc32(absl::string_view(bytes).substr(0, body)) != stored_crc) {
    return absl::DataLossError(absl::StrCat(path, ": checksum mismatch; the file is corrupt"));
  }
  ASSIGN_OR_RETURN(uint32_t groups, in.U32());
  bool any_split = false;
  for (uint32_t g = 0; g < groups; ++g) {
    ASSIGN_OR_RETURN(std::string name, in.Str());
    ASSIGN_OR_RETURN(uint8_t split, in.U8());
    if (split > static_cast<uint8_t>(Split::kTest)) {
      return absl::DataLossError(absl::StrCat(path, ": bad split id ", split));
    }
    data.group_names.push_back(std::move(name));
    data.group_splits.push_back(static_cast<Split>(split));
    any_split |= split != 0;
  }
  if (!any_split) data.group_splits.clear();
  ASSIGN_OR_RETURN(uint32_t classes, in.U32());
  for (uint32_t c = 0; c < classes; ++c) {
    ASSIGN_OR_RETURN(uint32_t group, in.U32());
    ASSIGN_OR_RETURN(std::string name, in.Str());
    data.class_groups.push_back(static_cast<int32_t>(group));
    data.class_names.push_back(std::move(name));
  }
  ASSIGN_OR_RETURN(uint64_t images, in.U64());
  if (images > (body - in.pos()) / (4 + data.shape.bytes())) {
    return absl::DataLossError(absl::StrCat(path, ": truncated"));
  }
  data.labels.resize(images);
  for (uint64_t i = 0; i < images; ++i) {
    ASSIGN_OR_RETURN(uint32_t l, in.U32());
    data.labels[i] = static_cast<int32_t>(l);
  }
  data.pixels.resize(images * data.shape.bytes());
  RETURN_IF_ERROR(in.Bytes(data.pixels.data(), data.pixels.size()));
  if (in.pos() != body) return absl::DataLossError(absl::StrCat(path, ": trailing bytes"));
  RETURN_IF_ERROR(data.Validate());
  if (meta != nullptr) *meta = std::move(text);
  return data;
}

}  // namespace adaptd::train
