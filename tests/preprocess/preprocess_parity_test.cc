// adaptd's image preprocessing against torchvision's, on the same PNG and
// JPEG files: grey, grey+alpha, RGB and RGBA; tiny, thin, odd and large
// sizes; stretch, shorter side + centre crop, and a crop larger than the
// resized image (padding). The reference comes from Debian's
// python3-torchvision (tests/preprocess/torchvision_reference.py), run by
// the test into a temporary folder.
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/file_util.h"
#include "server/engine/input/input_decoder.h"
#include "tests/test_util/subprocess.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::engine {
namespace {

constexpr char kPython[] = "/usr/bin/python3";

// Largest |adaptd - torchvision| per image format and channel, over every case.
struct Worst {
  std::map<std::string, std::vector<double>> by_format;
  void Add(const std::string& format, int channel, double diff) {
    auto& v = by_format[format];
    if (static_cast<int>(v.size()) <= channel) v.resize(channel + 1, 0.0);
    v[channel] = std::max(v[channel], diff);
  }
};

Preprocessing FromCase(const nlohmann::json& c) {
  Preprocessing pre;
  pre.channels = c["channels"];
  pre.resize_height = c["height"];
  pre.resize_width = c["width"];
  pre.mean = c["mean"].get<std::vector<float>>();
  pre.std = c["std"].get<std::vector<float>>();
  pre.resize_mode = c["resize_mode"] == "shorter_side" ? Preprocessing::ResizeMode::kShorterSide
                                                         : Preprocessing::ResizeMode::kStretch;
  pre.resize_shorter_side = c["resize_shorter_side"];
  const auto bg = c["background"].get<std::vector<int>>();
  for (int i = 0; i < 3; ++i) pre.background[i] = static_cast<uint8_t>(bg[i]);
  return pre;
}

class PreprocessParityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::MakeTempDir("tv_parity"));
    const std::string log = *dir_ + "/reference.log";
    auto child = testing::Subprocess::Start(
        {kPython, ADAPTD_SOURCE_DIR "/tests/preprocess/torchvision_reference.py", *dir_}, log);
    ASSERT_TRUE(child.ok()) << child.status();
    auto status = (*child)->Wait(absl::Minutes(5));
    ASSERT_TRUE(status.ok()) << status.status();
    ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "the torchvision reference failed (python3-torchvision is installed by make deps):\n"
        << testing::ReadWholeFile(log);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string* dir_;
};
std::string* PreprocessParityTest::dir_ = nullptr;

TEST_F(PreprocessParityTest, MatchesTorchvisionOnEveryImageAndCase) {
  auto manifest_text = ReadFile(*dir_ + "/manifest.json");
  ASSERT_TRUE(manifest_text.ok()) << manifest_text.status();
  const nlohmann::json manifest = nlohmann::json::parse(*manifest_text);
  ASSERT_GE(manifest["cases"].size(), 200u);
  Worst worst;
  for (const auto& c : manifest["cases"]) {
    const std::string image = c["image"], format = c["format"];
    SCOPED_TRACE(absl::StrCat(image, " ", c["case"].get<std::string>()));
    auto bytes = ReadFile(*dir_ + "/" + image);
    auto ref_bytes = ReadFile(*dir_ + "/" + c["reference"].get<std::string>());
    ASSERT_TRUE(bytes.ok() && ref_bytes.ok());
    const Preprocessing pre = FromCase(c);
    const std::vector<int64_t> shape = {pre.channels, pre.resize_height, pre.resize_width};
    const size_t plane = static_cast<size_t>(pre.resize_height) * pre.resize_width;
    ASSERT_EQ(ref_bytes->size(), plane * pre.channels * sizeof(float));
    std::vector<float> ours(plane * pre.channels);
    InputRef input;
    input.kind = InputRef::Kind::kImage;
    input.data = *bytes;
    ASSERT_TRUE(DecodeInput(input, shape, pre, {}, "image", ours.data()).ok());
    const auto* ref = reinterpret_cast<const float*>(ref_bytes->data());
    for (int ch = 0; ch < pre.channels; ++ch) {
      // In units of one 8-bit level: the difference before Normalize.
      const double scale = 255.0 * (pre.std.empty() ? 1.0 : pre.std[ch]);
      double diff = 0;
      for (size_t i = 0; i < plane; ++i) {
        diff = std::max(diff, std::fabs(double{ours[ch * plane + i]} - ref[ch * plane + i]) * scale);
      }
      worst.Add(format, ch, diff);
    }
  }
  for (const auto& [format, channels] : worst.by_format) {
    std::string line = absl::StrCat("largest |adaptd - torchvision| on ", format, ", in 8-bit levels:");
    for (size_t ch = 0; ch < channels.size(); ++ch) absl::StrAppendFormat(&line, " c%d %.4f", ch, channels[ch]);
    std::printf("%s\n", line.c_str());
  }
  // The same decoders' pixels (stb for PNG, libjpeg at PIL's settings for
  // JPEG), PIL's resampling and rounding, and torchvision's float32 maths:
  // equal up to float32 rounding, far below one 8-bit level.
  ASSERT_EQ(worst.by_format.size(), 2u);
  for (const auto& [format, channels] : worst.by_format) {
    for (double d : channels) EXPECT_LT(d, 1e-3) << format;
  }
}

}  // namespace
}  // namespace adaptd::engine
