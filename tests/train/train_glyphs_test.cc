#include "train/glyphs.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace adaptd::train {
namespace {

GlyphOptions TinyOptions() {
  GlyphOptions o;
  o.max_scripts = 3;
  o.max_classes_per_script = 6;
  o.min_classes_per_script = 4;
  o.instances = 4;
  o.seed = 11;
  return o;
}

class GlyphsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(GlyphOptions().font_dir)) {
      GTEST_SKIP() << "no fonts installed under " << GlyphOptions().font_dir;
    }
  }
};

TEST_F(GlyphsTest, DeterministicForASeedWhateverTheThreadCount) {
  GlyphOptions options = TinyOptions();
  options.threads = 1;
  GlyphReport report;
  auto a = RenderGlyphs(options, &report);
  ASSERT_TRUE(a.ok()) << a.status();
  options.threads = 3;
  auto b = RenderGlyphs(options, nullptr);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->pixels, b->pixels);
  EXPECT_EQ(a->labels, b->labels);
  EXPECT_EQ(a->class_names, b->class_names);
  EXPECT_EQ(a->group_names, b->group_names);

  EXPECT_EQ(report.scripts, 3);
  EXPECT_EQ(report.classes, a->num_classes());
  EXPECT_EQ(report.images, a->size());
  options.seed = 12;
  auto c = RenderGlyphs(options, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(a->pixels, c->pixels);
}

// At another size and in RGB: the same glyphs, resized, each image with its
// own legible pair of ink and background colours.
TEST_F(GlyphsTest, AnySizeAndInColour) {
  GlyphOptions options = TinyOptions();
  auto grey = RenderGlyphs(options, nullptr);
  ASSERT_TRUE(grey.ok()) << grey.status();
  options.shape = {3, 20, 36};
  auto colour = RenderGlyphs(options, nullptr);
  ASSERT_TRUE(colour.ok()) << colour.status();
  ASSERT_TRUE(colour->Validate().ok());
  EXPECT_EQ(colour->shape, (ImageShape{3, 20, 36}));
  EXPECT_EQ(colour->class_names, grey->class_names);
  EXPECT_EQ(colour->labels, grey->labels);
  const int64_t plane = 20 * 36;
  std::set<std::vector<uint8_t>> backgrounds;
  for (int64_t i = 0; i < colour->size(); ++i) {
    const uint8_t* img = colour->image(i);
    backgrounds.insert({img[0], img[plane], img[2 * plane]});
    // Ink and background differ in luma: the image is not flat.
    double lo = 255, hi = 0;
    for (int64_t p = 0; p < plane; ++p) {
      const double luma = 0.299 * img[p] + 0.587 * img[plane + p] + 0.114 * img[2 * plane + p];
      lo = std::min(lo, luma);
      hi = std::max(hi, luma);
    }
    EXPECT_GT(hi - lo, 40) << "image " << i;
  }
  EXPECT_GT(backgrounds.size(), static_cast<size_t>(colour->size() / 2));
  auto a = GlyphFingerprint(options);
  auto b = GlyphFingerprint(TinyOptions());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b) << "the shape is part of the cache key";
}

TEST_F(GlyphsTest, ProducesVariedNonBlankImagesOfNamedClasses) {
  const GlyphOptions options = TinyOptions();
  auto data = RenderGlyphs(options, nullptr);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_TRUE(data->Validate().ok());
  EXPECT_EQ(data->num_groups(), 3);
  EXPECT_GE(data->num_classes(), 3 * options.min_classes_per_script);
  EXPECT_LE(data->num_classes(), 3 * options.max_classes_per_script);
  EXPECT_EQ(data->size(), static_cast<int64_t>(data->num_classes()) * options.instances);
  std::set<std::string> names(data->class_names.begin(), data->class_names.end());
  EXPECT_EQ(names.size(), data->class_names.size());
  for (int c = 0; c < data->num_classes(); ++c) {
    const std::string& group = data->group_names[data->class_groups[c]];
    EXPECT_TRUE(absl::StartsWith(data->class_names[c], group + "/U+")) << data->class_names[c];
  }
  const auto by_class = data->IndicesByClass();
  for (int c = 0; c < data->num_classes(); ++c) {
    ASSERT_EQ(by_class[c].size(), static_cast<size_t>(options.instances));
    for (int64_t i : by_class[c]) {
      const uint8_t* image = data->image(i);
      int ink = 0, border = 0;
      for (int p = 0; p < kImagePixels; ++p) ink += image[p] > 128;
      for (int k = 0; k < kImageSide; ++k) border += image[k] + image[(kImageSide - 1) * kImageSide + k];
      EXPECT_GT(ink, 5) << data->class_names[c] << " instance " << i << " is blank";
      EXPECT_LT(ink, kImagePixels * 3 / 4) << data->class_names[c];
      EXPECT_LT(border, 255 * 6) << "glyph runs off the top or bottom edge";
    }
    // Instances of a class differ (font, weight, distortion).
    EXPECT_FALSE(std::equal(data->image(by_class[c][0]), data->image(by_class[c][0]) + kImagePixels,
                            data->image(by_class[c][1])));
  }
}

TEST_F(GlyphsTest, FingerprintFollowsTheOptions) {
  GlyphOptions options = TinyOptions();
  auto a = GlyphFingerprint(options);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, *GlyphFingerprint(options));
  options.instances = 5;
  EXPECT_NE(*a, *GlyphFingerprint(options));
  options.font_dir = "/nonexistent";
  EXPECT_EQ(GlyphFingerprint(options).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(RenderGlyphs(options, nullptr).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace adaptd::train
