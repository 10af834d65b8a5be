#include "train/glyph_fonts.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace adaptd::train {
namespace fs = std::filesystem;

namespace {

// ---- Which script a code point belongs to ----------------------------------

// Blocks that many fonts share; their code points are grouped by block, not
// by font family. A null name drops the block (marks, spacing, presentation
// forms, private use, styled duplicates of Latin).
struct BlockRule {
  uint32_t first, last;
  const char* script;
};
constexpr BlockRule kBlocks[] = {
    {0x0000, 0x0020, nullptr},
    {0x0021, 0x007E, "Latin"},
    {0x007F, 0x00BF, nullptr},
    {0x00C0, 0x024F, "Latin"},
    {0x0250, 0x02AF, "IPA"},
    {0x02B0, 0x036F, nullptr},
    {0x0370, 0x03FF, "Greek"},
    {0x0400, 0x052F, "Cyrillic"},
    {0x1AB0, 0x1AFF, nullptr},
    {0x1C80, 0x1C8F, "Cyrillic"},
    {0x1D00, 0x1DBF, "IPA"},
    {0x1DC0, 0x1DFF, nullptr},
    {0x1E00, 0x1EFF, "Latin"},
    {0x1F00, 0x1FFF, "Greek"},
    {0x2000, 0x209F, nullptr},
    {0x20A0, 0x20CF, "Currency"},
    {0x20D0, 0x20FF, nullptr},
    {0x2100, 0x214F, "Letterlike"},
    {0x2150, 0x218F, "NumberForms"},
    {0x2190, 0x21FF, "Arrows"},
    {0x2200, 0x22FF, "MathOperators"},
    {0x2300, 0x23FF, "Technical"},
    {0x2400, 0x245F, nullptr},
    {0x2460, 0x24FF, "Enclosed"},
    {0x2500, 0x257F, "BoxDrawing"},
    {0x2580, 0x259F, nullptr},
    {0x25A0, 0x25FF, "GeometricShapes"},
    {0x2600, 0x26FF, "MiscSymbols"},
    {0x2700, 0x27BF, "Dingbats"},
    {0x27C0, 0x27EF, "MathSymbols"},
    {0x27F0, 0x27FF, "Arrows"},
    {0x2800, 0x28FF, "Braille"},
    {0x2900, 0x297F, "Arrows"},
    {0x2980, 0x29FF, "MathSymbols"},
    {0x2A00, 0x2AFF, "MathOperators"},
    {0x2B00, 0x2BFF, "MiscSymbolsArrows"},
    {0x2C60, 0x2C7F, "Latin"},
    {0x2DE0, 0x2DFF, nullptr},
    {0x2E00, 0x2E7F, nullptr},
    {0x3000, 0x303F, nullptr},
    {0xA640, 0xA69F, "Cyrillic"},
    {0xA720, 0xA7FF, "Latin"},
    {0xAB30, 0xAB6F, "Latin"},
    {0xD800, 0xF8FF, nullptr},
    {0xFB00, 0xFFFF, nullptr},
    {0x1D400, 0x1D7FF, nullptr},
    {0x1F000, 0x1F02F, "Mahjong"},
    {0x1F030, 0x1F09F, "Domino"},
    {0x1F0A0, 0x1F0FF, "PlayingCards"},
    {0x1F100, 0x1F1FF, "Enclosed"},
    {0x1F300, 0x1F5FF, "Pictographs"},
    {0x1F600, 0x1F64F, "Emoticons"},
    {0x1F650, 0x1F67F, "Ornaments"},
    {0x1F680, 0x1F6FF, "Transport"},
    {0x1F700, 0x1F77F, "Alchemical"},
    {0x1F780, 0x1F7FF, "GeometricShapes"},
    {0x1F800, 0x1F8FF, "Arrows"},
    {0x1F900, 0x1F9FF, "Pictographs"},
    {0x1FA00, 0x1FA6F, "Chess"},
    {0x1FB00, 0x1FBFF, "LegacyComputing"},
    {0xE0000, 0x10FFFF, nullptr},
};

// nullptr with *known = true: dropped. *known = false: a script's own block.
const char* SharedBlock(uint32_t cp, bool* known) {
  for (const auto& b : kBlocks) {
    if (cp >= b.first && cp <= b.last) {
      *known = true;
      return b.script;
    }
  }
  *known = false;
  return nullptr;
}

// "Noto Serif Devanagari" -> "Devanagari"; "" for pan-script families such
// as "Noto Sans" or "DejaVu Sans Mono".
std::string ScriptFromFamily(const std::string& family) {
  static const auto* kStyleWords = new absl::flat_hash_set<std::string>{
      "Noto", "Sans", "Serif", "Kufi", "Naskh", "Nastaliq", "Looped", "Rashi", "Traditional",
      "Display", "Mono", "Condensed", "Unjoined", "Slanted", "UI", "DejaVu", "Supplement",
      "TeX", "Gyre"};
  std::string key;
  for (absl::string_view word : absl::StrSplit(family, ' ', absl::SkipEmpty())) {
    if (!kStyleWords->contains(word)) absl::StrAppend(&key, word);
  }
  if (key == "Urdu") return "Arabic";
  if (absl::StartsWith(key, "Tifinagh")) return "Tifinagh";
  return key;
}

}  // namespace

std::vector<fs::path> FontFiles(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string ext = absl::AsciiStrToLower(it->path().extension().string());
    if (ext == ".ttf" || ext == ".otf" || ext == ".ttc") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::vector<FontFace>> DiscoverFonts(const std::string& dir) {
  FtLibrary ft;
  if (FT_Init_FreeType(&ft.lib) != 0) return absl::InternalError("FreeType: init failed");
  std::vector<FontFace> fonts;
  for (const auto& file : FontFiles(dir)) {
    FT_Long faces = 1;
    for (FT_Long index = 0; index < faces; ++index) {
      FT_Face face = nullptr;
      if (FT_New_Face(ft.lib, file.c_str(), index, &face) != 0) break;
      faces = face->num_faces;
      if (FT_IS_SCALABLE(face) && FT_Select_Charmap(face, FT_ENCODING_UNICODE) == 0 &&
          face->family_name != nullptr) {
        FontFace font;
        font.path = file.string();
        font.index = static_cast<int>(index);
        font.family = face->family_name;
        font.style = face->style_name != nullptr ? face->style_name : "";
        font.script = ScriptFromFamily(font.family);
        FT_UInt gi = 0;
        for (FT_ULong cp = FT_Get_First_Char(face, &gi); gi != 0; cp = FT_Get_Next_Char(face, cp, &gi)) {
          font.code_points.push_back(static_cast<uint32_t>(cp));
        }
        if (!font.code_points.empty()) fonts.push_back(std::move(font));
      }
      FT_Done_Face(face);
    }
  }
  if (fonts.empty()) {
    return absl::NotFoundError(absl::StrCat("font_dir: no scalable Unicode fonts under ", dir));
  }
  return fonts;
}

// Groups every code point under one script and lists the fonts for it.
std::map<std::string, std::vector<Candidate>> CandidatesByScript(const std::vector<FontFace>& fonts) {
  std::vector<std::pair<uint32_t, int>> pairs;  // (code point, font)
  for (int f = 0; f < static_cast<int>(fonts.size()); ++f) {
    for (uint32_t cp : fonts[f].code_points) pairs.emplace_back(cp, f);
  }
  std::sort(pairs.begin(), pairs.end());
  // How many code points each script's fonts have in each 128-code-point
  // page: a code point found in several scripts' fonts (a danda in every
  // Indic font) goes to the script whose page it is.
  std::map<std::pair<std::string, uint32_t>, int> page_counts;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const std::string& script = fonts[pairs[i].second].script;
    if (script.empty()) continue;
    if (i > 0 && pairs[i - 1].first == pairs[i].first && fonts[pairs[i - 1].second].script == script) {
      continue;
    }
    ++page_counts[{script, pairs[i].first >> 7}];
  }
  std::map<std::string, std::vector<Candidate>> out;
  for (size_t i = 0; i < pairs.size();) {
    const uint32_t cp = pairs[i].first;
    size_t j = i;
    while (j < pairs.size() && pairs[j].first == cp) ++j;
    bool known = false;
    const char* shared = SharedBlock(cp, &known);
    Candidate candidate;
    candidate.cp = cp;
    std::string script;
    if (known) {
      if (shared != nullptr) {
        script = shared;
        for (size_t k = i; k < j; ++k) candidate.fonts.push_back(pairs[k].second);
      }
    } else {
      int best = -1;
      for (size_t k = i; k < j; ++k) {
        const std::string& s = fonts[pairs[k].second].script;
        if (s.empty()) continue;
        const int count = page_counts[{s, cp >> 7}];
        if (count > best || (count == best && s < script)) {
          best = count;
          script = s;
        }
      }
      for (size_t k = i; k < j; ++k) {
        if (fonts[pairs[k].second].script == script) candidate.fonts.push_back(pairs[k].second);
      }
    }
    if (!script.empty() && !candidate.fonts.empty()) out[script].push_back(std::move(candidate));
    i = j;
  }
  return out;
}

}  // namespace adaptd::train
