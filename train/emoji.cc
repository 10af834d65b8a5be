#include "train/emoji.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include <ft2build.h>
#include FT_FREETYPE_H

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/status_macros.h"

namespace adaptd::train {
namespace {

// The font, shared by every picture's decode; FreeType faces are not
// thread-safe, so decoding takes the lock.
class ColourFont {
 public:
  ~ColourFont() {
    if (face_ != nullptr) FT_Done_Face(face_);
    if (lib_ != nullptr) FT_Done_FreeType(lib_);
  }

  absl::Status Open(const std::string& path) {
    if (FT_Init_FreeType(&lib_) != 0) return absl::InternalError("FreeType: init failed");
    if (FT_New_Face(lib_, path.c_str(), 0, &face_) != 0) {
      face_ = nullptr;
      return absl::InvalidArgumentError(absl::StrCat("font ", path, ": FreeType cannot open it"));
    }
    if (!FT_HAS_COLOR(face_) || face_->num_fixed_sizes < 1 || FT_Select_Size(face_, 0) != 0 ||
        FT_Select_Charmap(face_, FT_ENCODING_UNICODE) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("font ", path, ": not a colour bitmap font with a Unicode map"));
    }
    return absl::OkStatus();
  }

  // Every code point the font maps, in order.
  std::vector<uint32_t> CodePoints() const {
    std::vector<uint32_t> out;
    FT_UInt gi = 0;
    for (FT_ULong cp = FT_Get_First_Char(face_, &gi); gi != 0; cp = FT_Get_Next_Char(face_, cp, &gi)) {
      out.push_back(static_cast<uint32_t>(cp));
    }
    return out;
  }

  // The code point's bitmap as straight RGBA (FreeType's is premultiplied BGRA).
  absl::StatusOr<RgbaImage> Decode(uint32_t cp) {
    std::lock_guard<std::mutex> lock(mu_);
    if (FT_Load_Char(face_, cp, FT_LOAD_COLOR) != 0) {
      return absl::InvalidArgumentError(absl::StrFormat("U+%04X: does not load", cp));
    }
    const FT_Bitmap& b = face_->glyph->bitmap;
    if (b.pixel_mode != FT_PIXEL_MODE_BGRA || b.width == 0 || b.rows == 0) {
      return absl::InvalidArgumentError(absl::StrFormat("U+%04X: not a colour bitmap", cp));
    }
    RgbaImage image;
    image.width = static_cast<int>(b.width);
    image.height = static_cast<int>(b.rows);
    image.pixels.resize(size_t{4} * b.width * b.rows);
    for (unsigned y = 0; y < b.rows; ++y) {
      const uint8_t* row = b.buffer + static_cast<ptrdiff_t>(y) * b.pitch;
      for (unsigned x = 0; x < b.width; ++x) {
        const uint8_t* p = row + x * 4;
        uint8_t* q = &image.pixels[(size_t{y} * b.width + x) * 4];
        const int a = p[3];
        for (int c = 0; c < 3; ++c) q[c] = a == 0 ? 0 : std::min(255, (p[2 - c] * 255 + a / 2) / a);
        q[3] = static_cast<uint8_t>(a);
      }
    }
    return image;
  }

 private:
  FT_Library lib_ = nullptr;
  FT_Face face_ = nullptr;
  std::mutex mu_;
};

// The block a code point belongs to, or null for one that is not a picture
// alone (text symbols, keycaps, regional indicators, skin tones, joiners).
const char* BlockOf(uint32_t cp) {
  if (cp >= 0x1F1E6 && cp <= 0x1F1FF) return nullptr;  // Regional indicators.
  if (cp >= 0x1F3FB && cp <= 0x1F3FF) return nullptr;  // Skin-tone modifiers.
  if (cp >= 0x2190 && cp < 0x2C00) return "symbols";
  if (cp >= 0x1F000 && cp < 0x1F300) return "enclosed";
  if (cp >= 0x1F300 && cp < 0x1F600) return "pictographs";
  if (cp >= 0x1F600 && cp < 0x1F650) return "emoticons";
  if (cp >= 0x1F680 && cp < 0x1F700) return "transport";
  if (cp >= 0x1F900 && cp < 0x1FA00) return "supplemental";
  if (cp >= 0x1FA70 && cp < 0x1FB00) return "extended";
  return nullptr;
}

}  // namespace

std::string EmojiFingerprint(const EmojiOptions& o) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(o.font, ec);
  return absl::StrFormat("emoji font=%s bytes=%d %s", o.font, ec ? 0 : size,
                         ExemplarFingerprint(o.render));
}

absl::StatusOr<Dataset> RenderEmoji(const EmojiOptions& o, int* skipped,
                                    const std::function<void(int done, int total)>& progress) {
  if (!std::filesystem::is_regular_file(o.font)) {
    return absl::NotFoundError(absl::StrCat(
        "font ", o.font, ": no such file (Debian's fonts-noto-color-emoji installs it)"));
  }
  auto font = std::make_shared<ColourFont>();
  RETURN_IF_ERROR(font->Open(o.font));
  std::vector<Picture> pictures;
  for (uint32_t cp : font->CodePoints()) {
    const char* block = BlockOf(cp);
    if (block == nullptr) continue;
    pictures.push_back({absl::StrFormat("emoji/U+%04X", cp),
                        absl::StrFormat("%s/%04X", block, cp & ~0x3Fu),
                        [font, cp] { return font->Decode(cp); }});
  }
  return RenderExemplars(pictures, o.render, skipped, progress);
}

}  // namespace adaptd::train
