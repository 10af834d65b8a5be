// The installed fonts as the glyph set sees them (glyphs.h): every scalable
// Unicode face with the code points it maps, and each code point's script,
// taken from the font family ("Noto Serif Devanagari" -> "Devanagari") or,
// for blocks many fonts share, from the Unicode block (Latin, Greek,
// Arrows). No LibTorch. Thread-safe: plain functions of their arguments.
#ifndef ADAPTD_TRAIN_GLYPH_FONTS_H_
#define ADAPTD_TRAIN_GLYPH_FONTS_H_

#include <ft2build.h>
#include FT_FREETYPE_H

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace adaptd::train {

// A FreeType library handle, released with it. Not thread-safe: FreeType
// wants one per thread.
struct FtLibrary {
  FT_Library lib = nullptr;
  FtLibrary() = default;
  FtLibrary(const FtLibrary&) = delete;
  FtLibrary& operator=(const FtLibrary&) = delete;
  ~FtLibrary() {
    if (lib != nullptr) FT_Done_FreeType(lib);
  }
};

struct FontFace {
  std::string path;
  int index = 0;  // The face within a .ttc collection.
  std::string family;
  std::string style;
  std::string script;  // From the family; may be empty.
  std::vector<uint32_t> code_points;
};

// The .ttf, .otf and .ttc files under `dir` (recursively), sorted.
std::vector<std::filesystem::path> FontFiles(const std::string& dir);

// Every scalable face with a Unicode charmap under `dir`. NOT_FOUND when
// there is none.
absl::StatusOr<std::vector<FontFace>> DiscoverFonts(const std::string& dir);

// A code point and the fonts of its script that map it (indices into the
// fonts given to CandidatesByScript).
struct Candidate {
  uint32_t cp = 0;
  std::vector<int> fonts;
};

// Every code point under exactly one script, with the fonts for it, by
// script name. Code points of dropped blocks (marks, spacing, private use)
// are left out.
std::map<std::string, std::vector<Candidate>> CandidatesByScript(
    const std::vector<FontFace>& fonts);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_GLYPH_FONTS_H_
