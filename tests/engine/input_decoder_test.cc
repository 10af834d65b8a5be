#include "server/engine/input/input_decoder.h"

#include <cmath>
#include <cstring>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/test_util/synthetic.h"

namespace adaptd::engine {
namespace {

using ::testing::HasSubstr;

const std::vector<int64_t> kShape = {1, 28, 28};

Preprocessing Pre() {
  Preprocessing pre;
  pre.mean = {0.5f};
  pre.std = {0.5f};
  return pre;
}

InputRef FloatTensor(const std::vector<float>& values, std::vector<int64_t> shape,
                     std::string* storage) {
  storage->assign(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  InputRef ref;
  ref.kind = InputRef::Kind::kTensor;
  ref.shape = std::move(shape);
  ref.dtype = DType::kFloat32;
  ref.data = *storage;
  return ref;
}

TEST(InputDecoderTest, Float32IsTakenAsIs) {
  std::vector<float> values(28 * 28);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.01f - 3.f;
  std::string storage;
  std::vector<float> out(28 * 28);
  ASSERT_TRUE(DecodeInput(FloatTensor(values, kShape, &storage), kShape, Pre(), {}, "x",
                          out.data())
                  .ok());
  EXPECT_EQ(out, values);
}

TEST(InputDecoderTest, Uint8GetsScaledAndNormalised) {
  std::string pixels(28 * 28, '\0');
  pixels[0] = static_cast<char>(255);
  pixels[1] = static_cast<char>(0);
  pixels[2] = static_cast<char>(51);
  InputRef ref;
  ref.kind = InputRef::Kind::kTensor;
  ref.shape = kShape;
  ref.dtype = DType::kUint8;
  ref.data = pixels;
  std::vector<float> out(28 * 28);
  ASSERT_TRUE(DecodeInput(ref, kShape, Pre(), {}, "x", out.data()).ok());
  EXPECT_FLOAT_EQ(out[0], 1.f);
  EXPECT_FLOAT_EQ(out[1], -1.f);
  EXPECT_NEAR(out[2], (0.2f - 0.5f) / 0.5f, 1e-6);
}

TEST(InputDecoderTest, WrongShapeNamesFieldAndShapes) {
  std::vector<float> values(3 * 28 * 28, 0.f);
  std::string storage;
  std::vector<float> out(28 * 28);
  auto status = DecodeInput(FloatTensor(values, {3, 28, 28}, &storage), kShape, Pre(), {},
                            "support[3].input", out.data());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "support[3].input.tensor: expected shape [1,28,28], got [3,28,28]");
}

TEST(InputDecoderTest, DataLengthMismatch) {
  std::vector<float> values(10, 0.f);
  std::string storage;
  std::vector<float> out(28 * 28);
  auto status =
      DecodeInput(FloatTensor(values, kShape, &storage), kShape, Pre(), {}, "inputs[0]", out.data());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("inputs[0].tensor.data: expected 3136 bytes"));
}

TEST(InputDecoderTest, UnsupportedDtype) {
  std::string storage(28 * 28 * 4, '\0');
  InputRef ref;
  ref.kind = InputRef::Kind::kTensor;
  ref.shape = kShape;
  ref.dtype = static_cast<DType>(9);
  ref.data = storage;
  std::vector<float> out(28 * 28);
  auto status = DecodeInput(ref, kShape, Pre(), {}, "inputs[0]", out.data());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("inputs[0].tensor.dtype: unsupported dtype 9"));
}

TEST(InputDecoderTest, OverflowingAndNonPositiveDims) {
  std::string storage;
  std::vector<float> out(28 * 28);
  InputRef ref;
  ref.kind = InputRef::Kind::kTensor;
  ref.dtype = DType::kFloat32;
  ref.shape = {1 << 20, 1 << 20, 1 << 20};
  auto status = DecodeInput(ref, kShape, Pre(), {}, "inputs[0]", out.data());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("inputs[0].tensor.shape"));
  EXPECT_THAT(status.message(), HasSubstr("overflows"));
  ref.shape = {1, -28, 28};
  status = DecodeInput(ref, kShape, Pre(), {}, "inputs[0]", out.data());
  EXPECT_THAT(status.message(), HasSubstr("dimension 1 is -28"));
}

TEST(InputDecoderTest, NanAndInfAreRejected) {
  std::vector<float> values(28 * 28, 0.f);
  values[17] = std::numeric_limits<float>::quiet_NaN();
  std::string storage;
  std::vector<float> out(28 * 28);
  auto status =
      DecodeInput(FloatTensor(values, kShape, &storage), kShape, Pre(), {}, "inputs[2]", out.data());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "inputs[2].tensor.data: element 17 is NaN; inputs must be finite");
  values[17] = std::numeric_limits<float>::infinity();
  status =
      DecodeInput(FloatTensor(values, kShape, &storage), kShape, Pre(), {}, "inputs[2]", out.data());
  EXPECT_THAT(status.message(), HasSubstr("element 17 is Inf"));
}

TEST(InputDecoderTest, MissingInput) {
  std::vector<float> out(28 * 28);
  auto status = DecodeInput(InputRef{}, kShape, Pre(), {}, "inputs[4]", out.data());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "inputs[4]: is empty; set tensor or image");
}

TEST(InputDecoderTest, PngIsDecodedResizedAndNormalised) {
  // A 56x56 image of a 28x28 pattern scaled 2x: resizing recovers it.
  auto small = testing::SyntheticImage(3, 0);
  std::vector<uint8_t> big(56 * 56);
  for (int y = 0; y < 56; ++y) {
    for (int x = 0; x < 56; ++x) big[y * 56 + x] = small[(y / 2) * 28 + x / 2];
  }
  std::string png = testing::EncodePng(big, 56, 56);
  InputRef ref;
  ref.kind = InputRef::Kind::kImage;
  ref.data = png;
  std::vector<float> out(28 * 28);
  ASSERT_TRUE(DecodeInput(ref, kShape, Pre(), {}, "x", out.data()).ok());
  // Resampling filters blur edges a little; another class's image is far off.
  auto other = testing::SyntheticImage(4, 0);
  double err = 0, err_other = 0;
  for (int i = 0; i < 28 * 28; ++i) {
    err += std::abs(out[i] - (small[i] / 255.f - 0.5f) / 0.5f);
    err_other += std::abs(out[i] - (other[i] / 255.f - 0.5f) / 0.5f);
  }
  EXPECT_LT(err / (28 * 28), 0.15);
  EXPECT_GT(err_other, 3 * err);
}

TEST(InputDecoderTest, RgbImageIsConvertedToGray) {
  std::vector<uint8_t> rgb(28 * 28 * 3, 200);
  std::string png = testing::EncodePng(rgb, 28, 28, 3);
  InputRef ref;
  ref.kind = InputRef::Kind::kImage;
  ref.data = png;
  std::vector<float> out(28 * 28);
  ASSERT_TRUE(DecodeInput(ref, kShape, Pre(), {}, "x", out.data()).ok());
  EXPECT_NEAR(out[0], (200 / 255.f - 0.5f) / 0.5f, 0.02);
}

TEST(InputDecoderTest, CorruptImage) {
  std::string png = testing::EncodePng(testing::SyntheticImage(1, 1), 28, 28);
  png.resize(png.size() / 2);
  InputRef ref;
  ref.kind = InputRef::Kind::kImage;
  ref.data = png;
  std::vector<float> out(28 * 28);
  auto status = DecodeInput(ref, kShape, Pre(), {}, "support[0].input", out.data());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("support[0].input.image: corrupt image"));

  ref.data = "definitely not an image";
  status = DecodeInput(ref, kShape, Pre(), {}, "support[0].input", out.data());
  EXPECT_THAT(status.message(), HasSubstr("support[0].input.image: not a decodable PNG or JPEG"));
}

TEST(InputDecoderTest, DecodeLimitsStopBombsBeforeDecoding) {
  // A 2000x2000 black PNG compresses to a few KB.
  std::string png = testing::EncodePng(std::vector<uint8_t>(2000 * 2000, 0), 2000, 2000);
  InputRef ref;
  ref.kind = InputRef::Kind::kImage;
  ref.data = png;
  std::vector<float> out(28 * 28);
  DecodeLimits limits;
  limits.max_image_pixels = 1000 * 1000;
  auto status = DecodeInput(ref, kShape, Pre(), limits, "inputs[0]", out.data());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("inputs[0].image: 2000x2000 pixels exceeds the decode limit"));
  limits = DecodeLimits();
  limits.max_image_bytes = 100;
  status = DecodeInput(ref, kShape, Pre(), limits, "inputs[0]", out.data());
  EXPECT_THAT(status.message(), HasSubstr("bytes exceeds the decode limit of 100 bytes"));
}

}  // namespace
}  // namespace adaptd::engine
