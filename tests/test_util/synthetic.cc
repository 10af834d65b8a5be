#include "tests/test_util/synthetic.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <algorithm>
#include <stdexcept>
#include <vector>

extern "C" {
#include <stb/stb_image_write.h>
}

namespace adaptd::testing {

std::vector<uint8_t> SyntheticImage(int cls, int instance, uint64_t seed) {
  std::mt19937_64 pattern_rng(seed * 1000003 + cls);
  std::vector<float> pattern(kSide * kSide, 0.f);
  // A few bright blobs at class-specific places.
  for (int b = 0; b < 4; ++b) {
    const int cy = 4 + pattern_rng() % 20, cx = 4 + pattern_rng() % 20;
    const int r = 2 + pattern_rng() % 3;
    for (int y = 0; y < kSide; ++y) {
      for (int x = 0; x < kSide; ++x) {
        if ((y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r) pattern[y * kSide + x] = 1.f;
      }
    }
  }
  std::mt19937_64 rng(seed * 7919 + cls * 104729 + instance + 1);
  std::normal_distribution<float> noise(0.f, 0.15f);
  const int dy = static_cast<int>(rng() % 3) - 1, dx = static_cast<int>(rng() % 3) - 1;
  std::vector<uint8_t> image(kSide * kSide);
  for (int y = 0; y < kSide; ++y) {
    for (int x = 0; x < kSide; ++x) {
      const int sy = y - dy, sx = x - dx;
      float v = (sy >= 0 && sy < kSide && sx >= 0 && sx < kSide) ? pattern[sy * kSide + sx] : 0.f;
      v = std::min(1.f, std::max(0.f, v * 0.8f + 0.1f + noise(rng)));
      image[y * kSide + x] = static_cast<uint8_t>(v * 255.f + 0.5f);
    }
  }
  return image;
}

std::vector<float> SyntheticInput(int cls, int instance, uint64_t seed) {
  auto pixels = SyntheticImage(cls, instance, seed);
  std::vector<float> out(pixels.size());
  for (size_t i = 0; i < pixels.size(); ++i) out[i] = (pixels[i] / 255.f - 0.5f) / 0.5f;
  return out;
}

std::string EncodePng(const std::vector<uint8_t>& pixels, int width, int height,
                      int channels) {
  std::string out;
  stbi_write_png_to_func(
      [](void* ctx, void* data, int size) {
        static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size);
      },
      &out, width, height, channels, pixels.data(), width * channels);
  return out;
}

namespace {

// The folders MakeTempDir made in this process, removed when it exits
// normally (kept with ADAPTD_KEEP_TEST_DIRS=1, to look into a failure). A
// forked child that exits leaves them to its parent.
struct MadeDirs {
  std::mutex mu;
  std::vector<std::string> dirs;
  pid_t owner = getpid();
};

MadeDirs& Made() {
  static MadeDirs* made = [] {
    auto* m = new MadeDirs;
    std::atexit([] {
      MadeDirs& d = Made();
      const char* keep = std::getenv("ADAPTD_KEEP_TEST_DIRS");
      if (getpid() != d.owner || (keep != nullptr && std::string(keep) == "1")) return;
      std::lock_guard<std::mutex> lock(d.mu);
      for (const std::string& dir : d.dirs) {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    });
    return m;
  }();
  return *made;
}

}  // namespace

std::string MakeTempDir(const std::string& prefix) {
  std::string templ = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  MadeDirs& made = Made();
  std::lock_guard<std::mutex> lock(made.mu);
  made.dirs.push_back(templ);
  return templ;
}

}  // namespace adaptd::testing
