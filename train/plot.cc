#include "train/plot.h"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_format.h"
#include "train/png_out.h"

namespace adaptd::train {
namespace {

constexpr int kWidth = 900, kHeight = 560;
constexpr int kLeft = 80, kRight = 220, kTop = 50, kBottom = 70;

struct Rgb {
  uint8_t r, g, b;
};

class Canvas {
 public:
  Canvas() : pixels_(kWidth * kHeight * 3, 255) {}
  void Set(int x, int y, Rgb c, double alpha = 1.0) {
    if (x < 0 || y < 0 || x >= kWidth || y >= kHeight) return;
    uint8_t* p = &pixels_[(y * kWidth + x) * 3];
    p[0] = static_cast<uint8_t>(p[0] * (1 - alpha) + c.r * alpha);
    p[1] = static_cast<uint8_t>(p[1] * (1 - alpha) + c.g * alpha);
    p[2] = static_cast<uint8_t>(p[2] * (1 - alpha) + c.b * alpha);
  }
  void Line(double x0, double y0, double x1, double y1, Rgb c, int width = 1) {
    const int n = static_cast<int>(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
    for (int i = 0; i <= n; ++i) {
      const double t = static_cast<double>(i) / n;
      const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0)));
      const int y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
      for (int dx = -(width / 2); dx <= width / 2; ++dx) {
        for (int dy = -(width / 2); dy <= width / 2; ++dy) Set(x + dx, y + dy, c);
      }
    }
  }
  void Box(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = y0; y <= y1; ++y) {
      for (int x = x0; x <= x1; ++x) Set(x, y, c);
    }
  }
  const std::vector<uint8_t>& pixels() const { return pixels_; }

 private:
  std::vector<uint8_t> pixels_;
};

class Text {
 public:
  explicit Text(const std::string& font) {
    ok_ = FT_Init_FreeType(&library_) == 0 && FT_New_Face(library_, font.c_str(), 0, &face_) == 0;
  }
  ~Text() {
    if (face_) FT_Done_Face(face_);
    if (library_) FT_Done_FreeType(library_);
  }
  bool ok() const { return ok_; }
  // Draws `text` with its baseline at y, starting at x (align: 0 left,
  // 1 centre, 2 right). Returns the width.
  int Draw(Canvas& canvas, const std::string& text, int x, int y, int size, int align = 0) {
    if (!ok_) return 0;
    FT_Set_Pixel_Sizes(face_, 0, size);
    int width = 0;
    for (unsigned char ch : text) {
      if (FT_Load_Char(face_, ch, FT_LOAD_DEFAULT) == 0) width += face_->glyph->advance.x >> 6;
    }
    int pen = x - (align == 1 ? width / 2 : align == 2 ? width : 0);
    for (unsigned char ch : text) {
      if (FT_Load_Char(face_, ch, FT_LOAD_RENDER) != 0) continue;
      const FT_GlyphSlot g = face_->glyph;
      for (unsigned row = 0; row < g->bitmap.rows; ++row) {
        for (unsigned col = 0; col < g->bitmap.width; ++col) {
          const double alpha = g->bitmap.buffer[row * g->bitmap.pitch + col] / 255.0;
          if (alpha > 0) canvas.Set(pen + g->bitmap_left + col, y - g->bitmap_top + row, {30, 30, 30}, alpha);
        }
      }
      pen += g->advance.x >> 6;
    }
    return width;
  }

 private:
  FT_Library library_ = nullptr;
  FT_Face face_ = nullptr;
  bool ok_ = false;
};

}  // namespace

absl::Status WriteLinePlot(const std::string& path, const std::string& title,
                           const std::string& x_label, const std::string& y_label,
                           const std::vector<PlotSeries>& series, const std::string& font) {
  std::map<double, int> rank;
  double lo = 1e300, hi = -1e300;
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      rank[s.x[i]] = 0;
      lo = std::min(lo, s.y[i]);
      hi = std::max(hi, s.y[i]);
    }
  }
  if (rank.empty()) return absl::InvalidArgumentError("plot: no data");
  int next = 0;
  for (auto& [x, r] : rank) r = next++;
  lo = std::floor(lo / 5) * 5;
  hi = std::ceil(hi / 5) * 5;
  if (hi - lo < 5) hi = lo + 5;
  const int plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (rank.size() == 1 ? plot_w / 2.0 : rank[x] * plot_w / (rank.size() - 1.0)); };
  auto py = [&](double y) { return kTop + plot_h - (y - lo) / (hi - lo) * plot_h; };

  Canvas canvas;
  Text text(font);
  const Rgb axis{60, 60, 60}, grid{225, 225, 225};
  for (double y = lo; y <= hi + 1e-9; y += 5) {
    canvas.Line(kLeft, py(y), kLeft + plot_w, py(y), grid);
    text.Draw(canvas, absl::StrFormat("%.0f", y), kLeft - 8, static_cast<int>(py(y)) + 5, 13, 2);
  }
  for (const auto& [x, r] : rank) {
    canvas.Line(px(x), kTop + plot_h, px(x), kTop + plot_h + 5, axis);
    text.Draw(canvas, absl::StrFormat("%g", x), static_cast<int>(px(x)), kTop + plot_h + 22, 13, 1);
  }
  canvas.Line(kLeft, kTop, kLeft, kTop + plot_h, axis);
  canvas.Line(kLeft, kTop + plot_h, kLeft + plot_w, kTop + plot_h, axis);
  text.Draw(canvas, title, kWidth / 2, 30, 17, 1);
  text.Draw(canvas, x_label, kLeft + plot_w / 2, kHeight - 20, 14, 1);
  text.Draw(canvas, y_label, 10, kTop - 12, 14, 0);
  const Rgb colours[] = {{31, 119, 180}, {214, 39, 40}, {44, 160, 44}, {255, 127, 14},
                         {148, 103, 189}, {140, 86, 75}};
  for (size_t s = 0; s < series.size(); ++s) {
    const Rgb c = colours[s % 6];
    const auto& x = series[s].x;
    const auto& y = series[s].y;
    for (size_t i = 0; i + 1 < x.size() && i + 1 < y.size(); ++i) {
      canvas.Line(px(x[i]), py(y[i]), px(x[i + 1]), py(y[i + 1]), c, 3);
    }
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      canvas.Box(static_cast<int>(px(x[i])) - 3, static_cast<int>(py(y[i])) - 3,
                 static_cast<int>(px(x[i])) + 3, static_cast<int>(py(y[i])) + 3, c);
    }
    const int ly = kTop + 20 + static_cast<int>(s) * 24;
    canvas.Box(kWidth - kRight + 20, ly - 10, kWidth - kRight + 40, ly, c);
    text.Draw(canvas, series[s].name, kWidth - kRight + 48, ly, 14, 0);
  }
  return WritePngFile(path, canvas.pixels().data(), kWidth, kHeight, /*channels=*/3);
}

}  // namespace adaptd::train
