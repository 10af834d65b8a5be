#include "server/engine/model/fingerprint.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/status_macros.h"

namespace adaptd::engine {
namespace {

namespace fs = std::filesystem;

// SHA-256 (FIPS 180-4), streaming. Small and dependency-free: the hash is
// computed once per model load, over files of at most a few hundred MB.
class Sha256 {
 public:
  void Update(const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    length_ += size;
    while (size > 0) {
      const size_t n = std::min(size, block_.size() - filled_);
      std::memcpy(block_.data() + filled_, p, n);
      filled_ += n;
      p += n;
      size -= n;
      if (filled_ == block_.size()) {
        Compress(block_.data());
        filled_ = 0;
      }
    }
  }

  // The digest; the object is spent afterwards.
  std::array<uint8_t, 32> Finish() {
    const uint64_t bits = length_ * 8;
    const uint8_t pad = 0x80;
    Update(&pad, 1);
    const uint8_t zero = 0;
    while (filled_ != 56) Update(&zero, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
    Update(len, 8);
    std::array<uint8_t, 32> out;
    for (int i = 0; i < 8; ++i) {
      for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<uint8_t>(h_[i] >> (24 - 8 * j));
    }
    return out;
  }

 private:
  static uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void Compress(const uint8_t* block) {
    static constexpr uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = (uint32_t{block[4 * i]} << 24) | (uint32_t{block[4 * i + 1]} << 16) |
             (uint32_t{block[4 * i + 2]} << 8) | uint32_t{block[4 * i + 3]};
    }
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6],
             h = h_[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 = h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                          k[i] + w[i];
      const uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f, h_[6] += g,
        h_[7] += h;
  }

  uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<uint8_t, 64> block_{};
  size_t filled_ = 0;
  uint64_t length_ = 0;
};

std::string Hex(const std::array<uint8_t, 32>& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : digest) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

// The fingerprint's input: named parts, each framed by its name's and its
// value's lengths so that no two different sequences hash alike.
class Framer {
 public:
  void Add(absl::string_view name, absl::string_view value) {
    PutLength(name.size());
    sha_.Update(name.data(), name.size());
    PutLength(value.size());
    sha_.Update(value.data(), value.size());
  }
  std::string Finish() { return absl::StrCat("sha256:", Hex(sha_.Finish())); }

 private:
  void PutLength(uint64_t n) {
    uint8_t bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(n >> (8 * i));
    sha_.Update(bytes, 8);
  }
  Sha256 sha_;
};

// The SHA-256 of a file's bytes, read in chunks.
absl::StatusOr<std::string> HashFile(const fs::path& path, absl::string_view field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(field, ": ", path.string(), " cannot be read for the fingerprint"));
  }
  Sha256 sha;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    sha.Update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat(field, ": reading ", path.string(), " failed"));
  }
  return Hex(sha.Finish());
}

std::string Deterministic(const google::protobuf::MessageLite& message) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// TextConfig's string fields that name a file ("..._file"), found by
// reflection so that a tokenizer file added to the config is hashed too.
std::vector<const google::protobuf::FieldDescriptor*> TextFileFields() {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  const google::protobuf::Descriptor* d = adaptd::v1::TextConfig::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_STRING && !f->is_repeated() &&
        absl::EndsWith(f->name(), "_file")) {
      fields.push_back(f);
    }
  }
  return fields;
}

// The text settings without the files' names, then each named file's hash.
absl::Status AddText(const adaptd::v1::TextConfig& text, const fs::path& dir, Framer& framer) {
  adaptd::v1::TextConfig settings = text;
  const auto* reflection = settings.GetReflection();
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto* field : TextFileFields()) {
    const std::string name = reflection->GetString(text, field);
    if (!name.empty()) files.emplace_back(field->name(), name);
    reflection->ClearField(&settings, field);
  }
  framer.Add("text", Deterministic(settings));
  for (const auto& [field, name] : files) {
    const std::string where = absl::StrCat("text.", field);
    ASSIGN_OR_RETURN(std::string hash, HashFile(dir / name, where));
    framer.Add(where, hash);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ModelFingerprint(const adaptd::v1::ModelConfig& config,
                                             const std::string& folder) {
  const fs::path dir(folder);
  Framer framer;
  framer.Add("adaptd.backbone.fingerprint", "1");
  framer.Add("modality", config.modality().empty() ? "image" : config.modality());
  framer.Add("format", config.format());
  framer.Add("feature_dim", absl::StrCat(config.feature_dim()));
  framer.Add("input_shape", absl::StrJoin(config.input_shape(), ","));
  framer.Add("preprocessing", Deterministic(config.preprocessing()));
  if (config.modality() == "text") RETURN_IF_ERROR(AddText(config.text(), dir, framer));
  ASSIGN_OR_RETURN(std::string weights, HashFile(dir / config.backbone_file(), "backbone_file"));
  framer.Add("backbone_file", weights);
  return framer.Finish();
}

std::string Sha256Hex(absl::string_view bytes) {
  Sha256 sha;
  sha.Update(bytes.data(), bytes.size());
  return Hex(sha.Finish());
}

}  // namespace adaptd::engine
