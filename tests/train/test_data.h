// Fixtures for adapt-train's tests: synthetic data sets and temp folders.
#ifndef ADAPTD_TESTS_TRAIN_TEST_DATA_H_
#define ADAPTD_TESTS_TRAIN_TEST_DATA_H_

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "train/dataset.h"
#include "train/text_data.h"
#include "train/random.h"

namespace adaptd::train::testing {

// A folder under $TEST_TMPDIR (or /tmp) removed with everything in it when
// the object goes away.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TEST_TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/adapt-train-test-XXXXXX");
    char* made = mkdtemp(pattern.data());
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The texts of class `name` of a text set, in order.
inline std::vector<std::string> TextsOf(const Dataset& data, const std::string& name) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < data.size(); ++i) {
    if (data.class_names[data.labels[i]] == name) out.push_back(data.texts[i]);
  }
  return out;
}

// Writes `data` (a text set) to `tsv` and reads it back as adapt-train reads
// text sets: the same texts and classes.
inline void ExpectTextTsvRoundTrip(const Dataset& data, const std::string& tsv) {
  ASSERT_TRUE(WriteTextTsv(data, tsv).ok());
  auto loaded = LoadTextTsv(tsv, TextLoadOptions{});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->texts, data.texts);
  EXPECT_EQ(loaded->class_names, data.class_names);
}

// Draws a bright line of width ~2 from (x0,y0) to (x1,y1).
inline void DrawLine(uint8_t* image, double x0, double y0, double x1, double y1) {
  for (int t = 0; t <= 40; ++t) {
    const double x = x0 + (x1 - x0) * t / 40.0, y = y0 + (y1 - y0) * t / 40.0;
    for (int dy = 0; dy <= 1; ++dy) {
      for (int dx = 0; dx <= 1; ++dx) {
        const int xx = static_cast<int>(x) + dx, yy = static_cast<int>(y) + dy;
        if (xx >= 0 && yy >= 0 && xx < kImageSide && yy < kImageSide) image[yy * kImageSide + xx] = 255;
      }
    }
  }
}

// `groups` x `classes_per_group` classes, `per_class` images each. A class
// is three random strokes; its images shift them by up to a pixel and add
// noise, so classes are learnable but not trivially identical.
inline Dataset MakeSyntheticDataset(int groups, int classes_per_group, int per_class,
                                    uint64_t seed = 7) {
  Dataset data;
  for (int g = 0; g < groups; ++g) {
    const int32_t group = data.AddGroup(absl::StrCat("group", g));
    for (int c = 0; c < classes_per_group; ++c) {
      const int32_t label = data.AddClass(absl::StrCat("group", g, "/class", c), group);
      Rng shape(MixSeed(seed, {static_cast<uint64_t>(label)}));
      double strokes[3][4];
      for (auto& s : strokes) {
        for (double& v : s) v = shape.Uniform(4, 23);
      }
      for (int i = 0; i < per_class; ++i) {
        Rng rng(MixSeed(seed, {static_cast<uint64_t>(label), static_cast<uint64_t>(i)}));
        const double dx = rng.Uniform(-1, 1), dy = rng.Uniform(-1, 1);
        uint8_t image[kImagePixels] = {};
        for (const auto& s : strokes) DrawLine(image, s[0] + dx, s[1] + dy, s[2] + dx, s[3] + dy);
        for (auto& p : image) {
          const int noisy = p + static_cast<int>(rng.Uniform(-30, 30));
          p = static_cast<uint8_t>(std::clamp(noisy, 0, 255));
        }
        data.AddImage(label, image);
      }
    }
  }
  return data;
}

// What a command printed (stdout and stderr) and its exit code (-1 if it
// did not exit normally).
struct ToolResult {
  int code = -1;
  std::string output;
};

// Runs `binary args` through the shell and collects its output.
inline ToolResult RunTool(const std::string& binary, const std::string& args) {
  ToolResult r;
  FILE* pipe = popen(absl::StrCat(binary, " ", args, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) r.output.append(buffer, n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace adaptd::train::testing

#endif  // ADAPTD_TESTS_TRAIN_TEST_DATA_H_
