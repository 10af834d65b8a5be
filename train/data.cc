#include "train/data.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "server/engine/status_macros.h"
#include "train/random.h"

extern "C" {
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>
}

namespace adaptd::train {
namespace fs = std::filesystem;

const char* SplitName(Split split) {
  switch (split) {
    case Split::kTrain:
      return "train";
    case Split::kVal:
      return "val";
    case Split::kTest:
      return "test";
    case Split::kUnassigned:
      break;
  }
  return "unassigned";
}

int32_t Dataset::AddGroup(std::string name) {
  group_names.push_back(std::move(name));
  if (!group_splits.empty()) group_splits.push_back(Split::kUnassigned);
  return num_groups() - 1;
}

int32_t Dataset::AddClass(std::string name, int32_t group) {
  class_names.push_back(std::move(name));
  class_groups.push_back(group);
  return num_classes() - 1;
}

void Dataset::AddImage(int32_t label, const uint8_t* image) {
  labels.push_back(label);
  pixels.insert(pixels.end(), image, image + kImagePixels);
}

std::vector<std::vector<int64_t>> Dataset::IndicesByClass() const {
  std::vector<std::vector<int64_t>> by_class(class_names.size());
  for (int64_t i = 0; i < size(); ++i) by_class[labels[i]].push_back(i);
  return by_class;
}

absl::Status Dataset::Validate() const {
  if (pixels.size() != labels.size() * kImagePixels) {
    return absl::InvalidArgumentError(absl::StrCat("dataset: ", pixels.size(), " pixel bytes for ",
                                                   labels.size(), " images"));
  }
  if (class_groups.size() != class_names.size()) {
    return absl::InvalidArgumentError("dataset: class_groups and class_names differ in length");
  }
  if (!group_splits.empty() && group_splits.size() != group_names.size()) {
    return absl::InvalidArgumentError("dataset: group_splits and group_names differ in length");
  }
  for (int32_t g : class_groups) {
    if (g < 0 || g >= num_groups()) {
      return absl::InvalidArgumentError(absl::StrCat("dataset: class group ", g, " out of range"));
    }
  }
  for (int32_t l : labels) {
    if (l < 0 || l >= num_classes()) {
      return absl::InvalidArgumentError(absl::StrCat("dataset: label ", l, " out of range"));
    }
  }
  return absl::OkStatus();
}

Dataset GroupsAsClasses(const Dataset& data) {
  std::vector<int64_t> first(data.num_classes(), -1);
  for (int64_t i = data.size() - 1; i >= 0; --i) first[data.labels[i]] = i;
  std::vector<std::vector<int64_t>> images(data.num_groups());
  for (int32_t c = 0; c < data.num_classes(); ++c) {
    if (first[c] >= 0) images[data.class_groups[c]].push_back(first[c]);
  }
  Dataset out;
  for (int32_t g = 0; g < data.num_groups(); ++g) {
    if (images[g].empty()) continue;
    const int32_t group = out.AddGroup(data.group_names[g]);
    if (!data.group_splits.empty()) {
      out.group_splits.resize(out.num_groups());  // AddGroup extends it once it is in use.
      out.group_splits[group] = data.group_splits[g];
    }
    const int32_t label = out.AddClass(data.group_names[g], group);
    for (int64_t i : images[g]) out.AddImage(label, data.image(i));
  }
  return out;
}

Dataset SelectClasses(const Dataset& data, const std::vector<int32_t>& classes) {
  Dataset out;
  std::vector<int32_t> class_map(data.num_classes(), -1);
  std::vector<int32_t> group_map(data.num_groups(), -1);
  const bool has_splits = !data.group_splits.empty();
  if (has_splits) out.group_splits.reserve(data.num_groups());
  for (int32_t c : classes) {
    const int32_t g = data.class_groups[c];
    if (group_map[g] < 0) {
      group_map[g] = out.num_groups();
      out.group_names.push_back(data.group_names[g]);
      if (has_splits) out.group_splits.push_back(data.group_splits[g]);
    }
    class_map[c] = out.AddClass(data.class_names[c], group_map[g]);
  }
  for (int64_t i = 0; i < data.size(); ++i) {
    const int32_t c = class_map[data.labels[i]];
    if (c >= 0) out.AddImage(c, data.image(i));
  }
  return out;
}

absl::Status AssignSplitsByGroup(Dataset* data, const SplitOptions& options) {
  const double test_fraction = 1.0 - options.train_fraction - options.val_fraction;
  if (options.train_fraction <= 0 || options.val_fraction <= 0 || test_fraction <= 0) {
    return absl::InvalidArgumentError(
        "split: train and val fractions must be positive and sum to less than 1");
  }
  if (data->num_groups() < 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("split: need at least 3 groups to split by group, have ", data->num_groups()));
  }
  std::vector<int64_t> classes_in(data->num_groups(), 0);
  for (int32_t g : data->class_groups) ++classes_in[g];
  std::vector<int32_t> order(data->num_groups());
  for (int32_t g = 0; g < data->num_groups(); ++g) order[g] = g;
  Rng rng(MixSeed(options.seed, {0x5b117}));
  rng.Shuffle(order);
  const double total = static_cast<double>(data->num_classes());
  double val = 0, test = 0;
  data->group_splits.assign(data->num_groups(), Split::kTrain);
  // Fill val, then test, up to their shares; everything else trains.
  for (int32_t g : order) {
    if (classes_in[g] == 0) continue;
    if (val < options.val_fraction * total) {
      data->group_splits[g] = Split::kVal;
      val += classes_in[g];
    } else if (test < test_fraction * total) {
      data->group_splits[g] = Split::kTest;
      test += classes_in[g];
    }
  }
  if (val + test >= total) {
    return absl::InvalidArgumentError(
        "split: too few groups to leave any for training; lower the val/test fractions");
  }
  return absl::OkStatus();
}

void AppendDataset(Dataset part, Dataset* merged) {
  const bool keep_splits = (merged->num_groups() == 0 || !merged->group_splits.empty()) &&
                           (part.num_groups() == 0 || !part.group_splits.empty());
  const int32_t group_base = merged->num_groups(), class_base = merged->num_classes();
  for (auto& g : part.group_names) merged->group_names.push_back(std::move(g));
  if (keep_splits) {
    merged->group_splits.insert(merged->group_splits.end(), part.group_splits.begin(),
                                part.group_splits.end());
  } else {
    merged->group_splits.clear();
  }
  for (int32_t c = 0; c < part.num_classes(); ++c) {
    merged->AddClass(std::move(part.class_names[c]), group_base + part.class_groups[c]);
  }
  merged->labels.reserve(merged->labels.size() + part.labels.size());
  for (int32_t label : part.labels) merged->labels.push_back(class_base + label);
  merged->pixels.insert(merged->pixels.end(), part.pixels.begin(), part.pixels.end());
}

Dataset SplitClasses(const Dataset& data, Split split) {
  std::vector<int32_t> classes;
  for (int32_t c = 0; c < data.num_classes(); ++c) {
    if (data.group_splits[data.class_groups[c]] == split) classes.push_back(c);
  }
  return SelectClasses(data, classes);
}

// ---- Binary cache ---------------------------------------------------------

namespace {

constexpr char kMagic[8] = {'A', 'D', 'P', 'T', 'D', 'S', 'E', 'T'};
constexpr uint32_t kVersion = 1;

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

uint32_t Crc32(const std::string& data, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return std::move(s).str();
}

// Writes `contents` to `path` through a temporary file in the same folder,
// flushed to disk and renamed, so a crash leaves the old file or the new one.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) return absl::InternalError(absl::StrCat(target.parent_path().string(), ": ", ec.message()));
  }
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return absl::InternalError(absl::StrCat(tmp, ": cannot create: ", std::strerror(errno)));
  const bool ok = std::fwrite(contents.data(), 1, contents.size(), f) == contents.size() &&
                  std::fflush(f) == 0 && fsync(fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    return absl::InternalError(absl::StrCat(tmp, ": write failed: ", std::strerror(errno)));
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    std::remove(tmp.c_str());
    return absl::InternalError(absl::StrCat(path, ": rename failed: ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadHeader(Reader& r, const std::string& path) {
  char magic[8];
  RETURN_IF_ERROR(r.Bytes(magic, 8));
  if (std::memcmp(magic, kMagic, 8) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an adapt-train data set"));
  }
  ASSIGN_OR_RETURN(uint32_t version, r.U32());
  if (version != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": data set version ", version, ", expected ", kVersion));
  }
  ASSIGN_OR_RETURN(uint32_t side, r.U32());
  if (side != kImageSide) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": images are ", side, "x", side));
  }
  return r.Str();
}

}  // namespace

absl::Status SaveDataset(const Dataset& data, const std::string& meta, const std::string& path) {
  RETURN_IF_ERROR(data.Validate());
  Writer w;
  w.Bytes(kMagic, 8);
  w.U32(kVersion);
  w.U32(kImageSide);
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
  w.U32(Crc32(w.buffer(), w.buffer().size()));
  return WriteFileAtomically(path, w.buffer());
}

absl::StatusOr<Dataset> LoadDataSpec(absl::string_view spec, std::string* meta) {
  const bool groups = absl::ConsumeSuffix(&spec, ":groups");
  ASSIGN_OR_RETURN(Dataset data, LoadDataset(std::string(spec), meta));
  return groups ? GroupsAsClasses(data) : data;
}

absl::StatusOr<std::string> ReadDatasetMeta(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string head(1 << 16, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  Reader r(path, head, head.size());
  return ReadHeader(r, path);
}

absl::StatusOr<Dataset> LoadDataset(const std::string& path, std::string* meta) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  if (bytes.size() < 12) return absl::DataLossError(absl::StrCat(path, ": truncated"));
  const size_t body = bytes.size() - 4;
  Reader in(path, bytes, body);
  ASSIGN_OR_RETURN(std::string text, ReadHeader(in, path));
  uint32_t stored_crc = 0;
  for (int i = 0; i < 4; ++i) stored_crc |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[body + i])) << (8 * i);
  if (Crc32(bytes, body) != stored_crc) {
    return absl::DataLossError(absl::StrCat(path, ": checksum mismatch; the file is corrupt"));
  }
  Dataset data;
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
  if (images > (body - in.pos()) / (4 + kImagePixels)) {
    return absl::DataLossError(absl::StrCat(path, ": truncated"));
  }
  data.labels.resize(images);
  for (uint64_t i = 0; i < images; ++i) {
    ASSIGN_OR_RETURN(uint32_t l, in.U32());
    data.labels[i] = static_cast<int32_t>(l);
  }
  data.pixels.resize(images * kImagePixels);
  RETURN_IF_ERROR(in.Bytes(data.pixels.data(), data.pixels.size()));
  if (in.pos() != body) return absl::DataLossError(absl::StrCat(path, ": trailing bytes"));
  RETURN_IF_ERROR(data.Validate());
  if (meta != nullptr) *meta = std::move(text);
  return data;
}

// ---- Readers --------------------------------------------------------------

namespace {

struct StbFree {
  void operator()(unsigned char* p) const { stbi_image_free(p); }
};

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
    auto image = DecodeTo28Gray(bytes, options);
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

absl::StatusOr<std::vector<uint8_t>> DecodeTo28Gray(const std::string& bytes,
                                                    const ImageLoadOptions& options) {
  if (bytes.empty() || bytes.size() > (1u << 30)) return absl::InvalidArgumentError("empty or too large");
  int w = 0, h = 0, comp = 0;
  std::unique_ptr<unsigned char, StbFree> decoded(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                            static_cast<int>(bytes.size()), &w, &h, &comp, 1));
  if (!decoded) {
    return absl::InvalidArgumentError(absl::StrCat("not a decodable PNG or JPEG (",
                                                   stbi_failure_reason(), ")"));
  }
  bool invert = options.invert == ImageLoadOptions::Invert::kAlways;
  if (options.invert == ImageLoadOptions::Invert::kAuto) {
    int64_t sum = 0, n = 0;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        if (y == 0 || y == h - 1 || x == 0 || x == w - 1) {
          sum += decoded.get()[y * w + x];
          ++n;
        }
      }
    }
    invert = sum > 127 * n;
  }
  std::vector<uint8_t> out(kImagePixels);
  if (w == kImageSide && h == kImageSide) {
    std::memcpy(out.data(), decoded.get(), kImagePixels);
  } else if (!stbir_resize_uint8(decoded.get(), w, h, 0, out.data(), kImageSide, kImageSide, 0, 1)) {
    return absl::InvalidArgumentError("could not be resized");
  }
  if (invert) {
    for (auto& p : out) p = static_cast<uint8_t>(255 - p);
  }
  return out;
}

absl::StatusOr<Dataset> LoadOmniglot(const std::string& root, ImageLoadOptions options) {
  ASSIGN_OR_RETURN(std::vector<fs::path> alphabets, ListSorted(root, /*folders=*/true));
  Dataset data;
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

// ---- Writers --------------------------------------------------------------

absl::Status WritePng(const std::string& path, const uint8_t* image, int width, int height) {
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  if (!stbi_write_png(path.c_str(), width, height, 1, image, width)) {
    return absl::InternalError(absl::StrCat(path, ": could not write PNG"));
  }
  return absl::OkStatus();
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
