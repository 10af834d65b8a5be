#include "client/bench/synthetic_inputs.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace adaptd::bench {
namespace {

// Topic words per text class: enough that instances differ, few enough that
// classes are told apart.
constexpr int kTopicWords = 8;

// Plain English words that any English WordPiece or SentencePiece
// vocabulary covers; class topics are drawn from them.
constexpr std::array<absl::string_view, 120> kVocabulary = {
    "apple", "bread", "cheese", "soup", "rice", "salad", "coffee", "tea", "sugar", "butter",
    "rain", "snow", "wind", "storm", "cloud", "sun", "cold", "warm", "fog", "ice",
    "river", "mountain", "forest", "lake", "ocean", "island", "desert", "valley", "hill", "beach",
    "car", "train", "plane", "boat", "bicycle", "road", "bridge", "station", "ticket", "driver",
    "doctor", "nurse", "hospital", "medicine", "pain", "fever", "heart", "blood", "bone", "skin",
    "school", "teacher", "student", "book", "lesson", "exam", "library", "paper", "pencil",
    "class", "money", "bank", "price", "market", "trade", "store", "coin", "loan", "tax", "cost",
    "music", "song", "piano", "guitar", "drum", "dance", "singer", "band", "concert", "voice",
    "dog", "cat", "horse", "bird", "fish", "cow", "sheep", "lion", "mouse", "wolf",
    "game", "ball", "team", "player", "goal", "match", "race", "coach", "score", "field",
    "house", "door", "window", "kitchen", "garden", "roof", "wall", "floor", "chair", "table",
    "computer", "phone", "screen", "software", "network", "data", "code", "email", "robot",
    "camera"};

// Function words between a text's topic words.
constexpr std::array<absl::string_view, 16> kCommonWords = {
    "the", "a", "of", "and", "in", "to", "with", "on", "for", "at", "is", "was", "by", "from",
    "this", "that"};

// A uniform double in [0, 1) from the next value of a splitmix64 stream.
double Uniform(uint64_t& state) {
  state += 0x9e3779b97f4a7c15ULL;
  return UnitInterval(Mix64(state));
}

}  // namespace

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double UnitInterval(uint64_t hash) { return static_cast<double>(hash >> 11) * 0x1.0p-53; }

Input SyntheticTensor(const std::vector<int64_t>& shape, int cls, int instance,
                      uint64_t seed) {
  const int64_t channels = shape[0], height = shape[1], width = shape[2];
  const int64_t side = std::min(height, width);
  // The class pattern: four discs at class-specific places, per channel.
  uint64_t pattern_rng = Mix64(seed * 1000003 + static_cast<uint64_t>(cls));
  std::vector<float> pattern(channels * height * width, 0.f);
  for (int64_t c = 0; c < channels; ++c) {
    for (int b = 0; b < 4; ++b) {
      const double cy = height * (0.15 + 0.7 * Uniform(pattern_rng));
      const double cx = width * (0.15 + 0.7 * Uniform(pattern_rng));
      const double r = side * (0.07 + 0.07 * Uniform(pattern_rng));
      for (int64_t y = 0; y < height; ++y) {
        for (int64_t x = 0; x < width; ++x) {
          if ((y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r) {
            pattern[(c * height + y) * width + x] = 1.f;
          }
        }
      }
    }
  }
  // The instance: a shift of up to one pixel (scaled with the image) and noise.
  uint64_t rng = Mix64(seed * 7919 + static_cast<uint64_t>(cls) * 104729 +
                       static_cast<uint64_t>(instance) + 1);
  const int64_t step = std::max<int64_t>(1, side / 28);
  const int64_t dy = (static_cast<int64_t>(Uniform(rng) * 3) - 1) * step;
  const int64_t dx = (static_cast<int64_t>(Uniform(rng) * 3) - 1) * step;
  Input t;
  t.shape = shape;
  t.data.resize(channels * height * width);
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        const int64_t sy = y - dy, sx = x - dx;
        const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
        const float base = inside ? pattern[(c * height + sy) * width + sx] : 0.f;
        const float noise = static_cast<float>((Uniform(rng) - 0.5) * 0.4);
        const float v = std::clamp(base * 0.8f + 0.1f + noise, 0.f, 1.f);
        t.data[(c * height + y) * width + x] = static_cast<char>(
            static_cast<uint8_t>(std::lround(v * 255.f)));
      }
    }
  }
  return t;
}

Input SyntheticText(int cls, int instance, int words, uint64_t seed) {
  // The class's topic: kTopicWords words drawn from kVocabulary by its hash.
  uint64_t topic_rng = Mix64(seed * 1000003 + static_cast<uint64_t>(cls));
  std::vector<absl::string_view> topic;
  for (int k = 0; k < kTopicWords; ++k) {
    topic.push_back(kVocabulary[Mix64(topic_rng + k) % kVocabulary.size()]);
  }
  // The instance: topic and common words alternating, drawn by its hash.
  uint64_t rng = Mix64(seed * 7919 + static_cast<uint64_t>(cls) * 104729 +
                       static_cast<uint64_t>(instance) + 1);
  Input text;
  text.kind = Input::Kind::kText;
  for (int w = 0; w < words; ++w) {
    rng = Mix64(rng);
    absl::string_view word = w % 2 == 0 ? topic[rng % topic.size()]
                                        : kCommonWords[rng % kCommonWords.size()];
    absl::StrAppend(&text.data, w == 0 ? "" : " ", word);
  }
  text.data += ".";
  return text;
}

InputPool::InputPool(std::vector<int64_t> shape, int classes, int instances, uint64_t seed)
    : shape_(std::move(shape)), classes_(classes), instances_(instances) {
  inputs_.reserve(static_cast<size_t>(classes) * instances);
  for (int c = 0; c < classes; ++c) {
    for (int i = 0; i < instances; ++i) inputs_.push_back(SyntheticTensor(shape_, c, i, seed));
  }
  malformed_ = inputs_.front();
  malformed_.shape.back() += 1;
  malformed_.data.append(static_cast<size_t>(shape_[0] * shape_[1]), '\0');
}

InputPool InputPool::Texts(int classes, int instances, int words, uint64_t seed) {
  InputPool pool(classes, instances);
  pool.inputs_.reserve(static_cast<size_t>(classes) * instances);
  for (int c = 0; c < classes; ++c) {
    for (int i = 0; i < instances; ++i) pool.inputs_.push_back(SyntheticText(c, i, words, seed));
  }
  pool.malformed_.kind = Input::Kind::kText;  // Empty: the server refuses it.
  return pool;
}

const Input& InputPool::Get(int cls, int instance) const {
  return inputs_[static_cast<size_t>(cls) * instances_ + instance];
}

}  // namespace adaptd::bench
