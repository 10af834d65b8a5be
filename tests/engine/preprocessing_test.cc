// The preprocessing config (model.pbtxt <-> engine) and the image operations
// on cases whose answer is known without a reference implementation; the
// torchvision comparison is tests/preprocess/preprocess_parity_test.cc.
#include "server/engine/input/preprocessing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/engine/input/image_ops.h"

namespace adaptd::engine {
namespace {

using ::testing::HasSubstr;

Pixels Image(int width, int height, int channels, std::vector<uint8_t> data) {
  return Pixels{width, height, channels, std::move(data)};
}

TEST(PreprocessingConfigTest, DefaultsAreStretchBilinearOnBlack) {
  v1::Preprocessing proto;
  auto pre = PreprocessingFromProto(proto, {3, 32, 48});
  ASSERT_TRUE(pre.ok()) << pre.status();
  EXPECT_EQ(pre->channels, 3);
  EXPECT_EQ(pre->resize_height, 32);
  EXPECT_EQ(pre->resize_width, 48);
  EXPECT_EQ(pre->resize_mode, Preprocessing::ResizeMode::kStretch);
  EXPECT_EQ(pre->resize_shorter_side, 32);
  EXPECT_EQ(pre->background, (std::array<uint8_t, 3>{0, 0, 0}));

  v1::Preprocessing out;
  PreprocessingToProto(*pre, &out);
  EXPECT_EQ(out.resize_mode(), "stretch");
  EXPECT_EQ(out.interpolation(), "bilinear");
  EXPECT_EQ(out.background_size(), 3);
}

TEST(PreprocessingConfigTest, ShorterSideRoundTrips) {
  v1::Preprocessing proto;
  proto.set_resize_mode("shorter_side");
  proto.set_resize_shorter_side(256);
  proto.add_background(255);
  proto.add_background(128);
  proto.add_background(0);
  for (float m : {0.485f, 0.456f, 0.406f}) proto.add_mean(m);
  for (float s : {0.229f, 0.224f, 0.225f}) proto.add_std(s);
  auto pre = PreprocessingFromProto(proto, {3, 224, 224});
  ASSERT_TRUE(pre.ok()) << pre.status();
  EXPECT_EQ(pre->resize_mode, Preprocessing::ResizeMode::kShorterSide);
  EXPECT_EQ(pre->resize_shorter_side, 256);
  EXPECT_EQ(pre->background, (std::array<uint8_t, 3>{255, 128, 0}));
  v1::Preprocessing back;
  PreprocessingToProto(*pre, &back);
  auto again = PreprocessingFromProto(back, {3, 224, 224});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->mean, pre->mean);
  EXPECT_EQ(again->std, pre->std);
  EXPECT_EQ(again->resize_shorter_side, 256);
}

TEST(PreprocessingConfigTest, RefusesWhatItCannotApplyNamingTheField) {
  auto refused = [](const std::function<void(v1::Preprocessing*)>& edit) {
    v1::Preprocessing proto;
    edit(&proto);
    auto pre = PreprocessingFromProto(proto, {3, 8, 8});
    EXPECT_EQ(pre.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(pre.status().message());
  };
  EXPECT_THAT(refused([](auto* p) { p->set_resize_mode("crop"); }),
              HasSubstr("preprocessing.resize_mode: unknown mode \"crop\""));
  EXPECT_THAT(refused([](auto* p) { p->set_interpolation("bicubic"); }),
              HasSubstr("preprocessing.interpolation"));
  EXPECT_THAT(refused([](auto* p) { p->add_background(1); }),
              HasSubstr("preprocessing.background: needs 3 values"));
  EXPECT_THAT(refused([](auto* p) {
                for (int v : {0, 300, 0}) p->add_background(v);
              }),
              HasSubstr("[0, 255]"));
  EXPECT_THAT(refused([](auto* p) { p->add_mean(0.5f); }), HasSubstr("one value per channel"));
  EXPECT_THAT(refused([](auto* p) {
                for (int i = 0; i < 3; ++i) p->add_std(i == 1 ? 0.f : 1.f);
              }),
              HasSubstr("preprocessing.std: must be positive"));
  EXPECT_THAT(refused([](auto* p) { p->set_resize_shorter_side(-1); }),
              HasSubstr("preprocessing.resize_shorter_side"));
}

TEST(ImageOpsTest, ShorterSideKeepsTheAspectRatioRoundingDown) {
  EXPECT_EQ(ShorterSideSize(640, 480, 256), (std::array<int, 2>{341, 256}));
  EXPECT_EQ(ShorterSideSize(480, 640, 256), (std::array<int, 2>{256, 341}));
  EXPECT_EQ(ShorterSideSize(1, 50, 9), (std::array<int, 2>{9, 450}));
  EXPECT_EQ(ShorterSideSize(64, 64, 32), (std::array<int, 2>{32, 32}));
}

TEST(ImageOpsTest, ResizingAFlatImageKeepsItFlat) {
  for (auto [w, h] : {std::pair{1, 1}, {1, 37}, {37, 1}, {5, 3}, {300, 200}}) {
    Pixels flat = Image(w, h, 3, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, 0));
    for (size_t i = 0; i < flat.data.size(); ++i) flat.data[i] = static_cast<uint8_t>(40 + i % 3);
    for (auto [ow, oh] : {std::pair{1, 1}, {7, 29}, {224, 224}}) {
      Pixels out = ResizeBilinear(flat, ow, oh);
      ASSERT_EQ(out.width, ow);
      ASSERT_EQ(out.height, oh);
      for (size_t i = 0; i < out.data.size(); ++i) ASSERT_EQ(out.data[i], 40 + i % 3);
    }
  }
}

TEST(ImageOpsTest, ResizingToTheSameSizeChangesNothing) {
  Pixels img = Image(3, 2, 1, {1, 2, 3, 250, 5, 6});
  EXPECT_EQ(ResizeBilinear(img, 3, 2).data, img.data);
}

TEST(ImageOpsTest, HalvingWidensTheFilterAsPilDoes) {
  // Shrinking by 2 widens the triangle filter to a support of 2 pixels each
  // side. Output 0 is centred at 1.0 and reads pixels 0-2 with weights
  // 0.75, 0.75, 0.25 (normalised by 1.75): 30 * 0.75 / 1.75 = 12.9 -> 13.
  // Output 1 is centred at 3.0 and reads pixels 1-3 with 0.25, 0.75, 0.75:
  // (5 + 191.25) / 1.75 = 112.1 -> 112.
  Pixels img = Image(4, 1, 1, {10, 20, 0, 255});
  EXPECT_EQ(ResizeBilinear(img, 2, 1).data, (std::vector<uint8_t>{13, 112}));
}

TEST(ImageOpsTest, CenterCropTakesTheMiddleAndPadsWhereTooSmall) {
  // 4x1 -> 2x1: offset round(2 / 2) = 1.
  Pixels row = Image(4, 1, 1, {1, 2, 3, 4});
  EXPECT_EQ(CenterCrop(row, 2, 1).data, (std::vector<uint8_t>{2, 3}));
  // 5x1 -> 2x1: offset round(1.5) = 2 (half to even, as Python rounds).
  Pixels five = Image(5, 1, 1, {1, 2, 3, 4, 5});
  EXPECT_EQ(CenterCrop(five, 2, 1).data, (std::vector<uint8_t>{3, 4}));
  // 4x1 -> 3x1: offset round(0.5) = 0.
  EXPECT_EQ(CenterCrop(row, 3, 1).data, (std::vector<uint8_t>{1, 2, 3}));
  // 1x1 -> 4x1: padded 1 left, 2 right.
  Pixels dot = Image(1, 1, 1, {9});
  EXPECT_EQ(CenterCrop(dot, 4, 1).data, (std::vector<uint8_t>{0, 9, 0, 0}));
}

TEST(ImageOpsTest, AlphaIsCompositedOverTheBackground) {
  const std::array<uint8_t, 3> bg = {200, 100, 0};
  Pixels rgba = Image(3, 1, 4, {10, 20, 30, 0,  10, 20, 30, 255,  255, 255, 255, 128});
  Pixels rgb = ToColour(rgba, 3, bg);
  EXPECT_EQ(rgb.channels, 3);
  EXPECT_EQ(std::vector<uint8_t>(rgb.data.begin(), rgb.data.begin() + 6),
            (std::vector<uint8_t>{200, 100, 0, 10, 20, 30}));
  // Half transparent white over the background: halfway, to within a level.
  EXPECT_NEAR(rgb.data[6], 228, 1);
  EXPECT_NEAR(rgb.data[7], 178, 1);
  EXPECT_NEAR(rgb.data[8], 128, 1);
  // Grey and alpha: transparent takes the background's luma.
  Pixels la = Image(1, 1, 2, {77, 0});
  EXPECT_EQ(ToColour(la, 1, bg).data[0], (200 * 19595 + 100 * 38470 + 0x8000) >> 16);
}

TEST(ImageOpsTest, ChwAndHwcRoundTrip) {
  const std::vector<uint8_t> chw = {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60};  // 2 planes of 3x2.
  Pixels hwc = FromCHW(chw.data(), 2, 2, 3);
  EXPECT_EQ(hwc.data, (std::vector<uint8_t>{1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60}));
  EXPECT_EQ(hwc.at(1, 2, 1), 60);
  EXPECT_EQ(ToCHW(hwc), chw);
}

TEST(ImageOpsTest, GreyIsPilsLuma) {
  Pixels rgb = Image(2, 1, 3, {255, 0, 0, 10, 200, 30});
  Pixels grey = ToColour(rgb, 1, {0, 0, 0});
  EXPECT_EQ(grey.data, (std::vector<uint8_t>{76, 124}));  // 0.299 R + 0.587 G + 0.114 B.
  EXPECT_EQ(ToColour(grey, 3, {0, 0, 0}).data, (std::vector<uint8_t>{76, 76, 76, 124, 124, 124}));
}

}  // namespace
}  // namespace adaptd::engine
