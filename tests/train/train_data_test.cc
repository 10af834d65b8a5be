// The data set, its splits, its cache, the readers and PNG output
// (dataset.h, splits.h, data_cache.h, loaders.h, png_out.h), and clip art.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/common/file_util.h"
#include "server/engine/input/image_ops.h"
#include "tests/train/test_data.h"
#include "train/clipart.h"
#include "train/data_cache.h"
#include "train/emoji.h"
#include "train/dataset.h"
#include "train/loaders.h"
#include "train/png_out.h"
#include "train/splits.h"

extern "C" {
#include <stb/stb_image_write.h>
}

namespace adaptd::train {
namespace {
namespace fs = std::filesystem;
using testing::MakeSyntheticDataset;
using testing::TempDir;

// A w x h gray (or RGB) image: `paper` everywhere, `ink` in a centred square.
std::vector<uint8_t> SquareImage(int w, int h, int channels, uint8_t paper, uint8_t ink) {
  std::vector<uint8_t> pixels(static_cast<size_t>(w) * h * channels, paper);
  for (int y = h / 3; y < 2 * h / 3; ++y) {
    for (int x = w / 3; x < 2 * w / 3; ++x) {
      for (int c = 0; c < channels; ++c) pixels[(y * w + x) * channels + c] = ink;
    }
  }
  return pixels;
}

void WriteImage(const std::string& path, int w, int h, int channels, uint8_t paper, uint8_t ink,
                bool jpeg = false) {
  fs::create_directories(fs::path(path).parent_path());
  const auto pixels = SquareImage(w, h, channels, paper, ink);
  const int ok = jpeg ? stbi_write_jpg(path.c_str(), w, h, channels, pixels.data(), 95)
                      : stbi_write_png(path.c_str(), w, h, channels, pixels.data(), w * channels);
  ASSERT_NE(ok, 0) << path;
}

uint8_t Center(const Dataset& d, int64_t i) { return d.image(i)[14 * kImageSide + 14]; }
uint8_t Corner(const Dataset& d, int64_t i) { return d.image(i)[0]; }

TEST(SplitTest, GroupsGoWhollyToOneSplitAndEverySplitHasSome) {
  Dataset data = MakeSyntheticDataset(20, 3, 2);
  SplitOptions options;
  ASSERT_TRUE(AssignSplitsByGroup(&data, options).ok());
  ASSERT_EQ(data.group_splits.size(), 20u);
  std::map<Split, int> classes;
  for (int c = 0; c < data.num_classes(); ++c) ++classes[data.group_splits[data.class_groups[c]]];
  EXPECT_EQ(classes.count(Split::kUnassigned), 0u);
  EXPECT_GT(classes[Split::kTrain], classes[Split::kTest]);
  EXPECT_GT(classes[Split::kVal], 0);
  EXPECT_GT(classes[Split::kTest], 0);

  // The splits' classes are disjoint and their groups too.
  std::set<std::string> seen_classes, seen_groups;
  int total = 0;
  for (Split s : {Split::kTrain, Split::kVal, Split::kTest}) {
    const Dataset part = SplitClasses(data, s);
    ASSERT_TRUE(part.Validate().ok());
    total += part.num_classes();
    for (const auto& name : part.class_names) EXPECT_TRUE(seen_classes.insert(name).second) << name;
    for (const auto& name : part.group_names) EXPECT_TRUE(seen_groups.insert(name).second) << name;
    for (Split g : part.group_splits) EXPECT_EQ(g, s);
    EXPECT_EQ(part.size(), part.num_classes() * 2);
  }
  EXPECT_EQ(total, data.num_classes());
}

TEST(SplitTest, DeterministicForASeedAndDifferentAcrossSeeds) {
  Dataset a = MakeSyntheticDataset(30, 1, 1), b = a, c = a;
  SplitOptions options;
  ASSERT_TRUE(AssignSplitsByGroup(&a, options).ok());
  ASSERT_TRUE(AssignSplitsByGroup(&b, options).ok());
  options.seed = 99;
  ASSERT_TRUE(AssignSplitsByGroup(&c, options).ok());
  EXPECT_EQ(a.group_splits, b.group_splits);
  EXPECT_NE(a.group_splits, c.group_splits);
}

TEST(SplitTest, RefusesTooFewGroupsAndBadFractions) {
  Dataset data = MakeSyntheticDataset(2, 5, 1);
  EXPECT_EQ(AssignSplitsByGroup(&data, SplitOptions()).code(), absl::StatusCode::kInvalidArgument);
  Dataset more = MakeSyntheticDataset(5, 1, 1);
  SplitOptions bad;
  bad.train_fraction = 0.9;
  bad.val_fraction = 0.2;
  EXPECT_EQ(AssignSplitsByGroup(&more, bad).code(), absl::StatusCode::kInvalidArgument);
}

TEST(CacheTest, RoundTripsAndDetectsCorruption) {
  TempDir dir;
  Dataset data = MakeSyntheticDataset(4, 3, 5);
  ASSERT_TRUE(AssignSplitsByGroup(&data, SplitOptions()).ok());
  const std::string path = dir / "sub/set.bin";
  ASSERT_TRUE(SaveDataset(data, "meta text", path).ok());
  std::string meta;
  auto loaded = LoadDataset(path, &meta);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(meta, "meta text");
  EXPECT_EQ(*ReadDatasetMeta(path), "meta text");
  EXPECT_EQ(loaded->pixels, data.pixels);
  EXPECT_EQ(loaded->labels, data.labels);
  EXPECT_EQ(loaded->class_names, data.class_names);
  EXPECT_EQ(loaded->class_groups, data.class_groups);
  EXPECT_EQ(loaded->group_names, data.group_names);
  EXPECT_EQ(loaded->group_splits, data.group_splits);
  // No temp file is left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir / "sub")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);

  // Flip one pixel byte: the checksum catches it.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(path) - 100));
    f.put('\x5a');
  }
  EXPECT_EQ(LoadDataset(path).status().code(), absl::StatusCode::kDataLoss);
  // Truncation too.
  fs::resize_file(path, 50);
  EXPECT_FALSE(LoadDataset(path).ok());
  EXPECT_EQ(LoadDataset(dir / "missing.bin").status().code(), absl::StatusCode::kNotFound);
}

TEST(LoaderTest, ReadsOmniglotLayoutAndInvertsPaper) {
  TempDir dir;
  // root/<alphabet>/<character>/*.png, 105x105 black ink on white, as Omniglot.
  for (const std::string alphabet : {"Alphabet_of_the_Magi", "Bengali"}) {
    for (const std::string character : {"character01", "character02"}) {
      for (int i = 0; i < 3; ++i) {
        WriteImage(dir / absl::StrCat(alphabet, "/", character, "/", i, ".png"), 105, 105, 1, 255, 0);
      }
    }
  }
  std::ofstream(dir / "README.txt") << "not a folder";
  auto data = LoadOmniglot(dir.path());
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->num_groups(), 2);
  EXPECT_EQ(data->num_classes(), 4);
  EXPECT_EQ(data->size(), 12);
  EXPECT_EQ(data->group_names[0], "Alphabet_of_the_Magi");
  EXPECT_EQ(data->class_names[3], "Bengali/character02");
  EXPECT_EQ(data->class_groups[3], 1);
  EXPECT_EQ(data->labels[11], 3);
  for (int64_t i = 0; i < data->size(); ++i) {
    EXPECT_GT(Center(*data, i), 200);  // Ink is bright after inversion.
    EXPECT_LT(Corner(*data, i), 30);
  }
  ImageLoadOptions options;
  options.max_per_class = 2;
  EXPECT_EQ(LoadOmniglot(dir.path(), options)->size(), 8);
  EXPECT_EQ(LoadOmniglot(dir / "nowhere").status().code(), absl::StatusCode::kNotFound);
}

TEST(LoaderTest, ReadsClassFoldersOfPngAndJpegAnySize) {
  TempDir dir;
  WriteImage(dir / "cat/a.png", 64, 48, 3, 0, 250);
  WriteImage(dir / "cat/b.JPG", 80, 80, 3, 0, 250, /*jpeg=*/true);
  WriteImage(dir / "dog/a.jpeg", 28, 28, 1, 0, 250, /*jpeg=*/true);
  WriteImage(dir / "dog/b.png", 300, 200, 1, 0, 250);
  WriteImage(dir / "emu/only.png", 10, 10, 1, 0, 250);
  std::ofstream(dir / "dog/notes.txt") << "skipped";
  auto data = LoadClassFolders(dir.path());
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->class_names, (std::vector<std::string>{"cat", "dog", "emu"}));
  EXPECT_EQ(data->num_groups(), 3);  // Each class is its own group.
  EXPECT_EQ(data->size(), 5);
  for (int64_t i = 0; i < data->size(); ++i) {
    EXPECT_GT(Center(*data, i), 200) << i;
    EXPECT_LT(Corner(*data, i), 30) << i;
  }
  // A corrupt image names the file.
  std::ofstream(dir / "emu/bad.png") << "not a png";
  auto bad = LoadClassFolders(dir.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.png"), std::string::npos);
}

// A w x h RGB PNG of one colour.
void WriteColour(const std::string& path, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  fs::create_directories(fs::path(path).parent_path());
  std::vector<uint8_t> rgb;
  for (int i = 0; i < w * h; ++i) rgb.insert(rgb.end(), {r, g, b});
  ASSERT_NE(stbi_write_png(path.c_str(), w, h, 3, rgb.data(), w * 3), 0) << path;
}

TEST(LoaderTest, ColourCachesAtAnySizeRoundTrip) {
  TempDir dir;
  WriteColour(dir / "red/a.png", 64, 48, 200, 30, 10);
  WriteColour(dir / "red/b.png", 7, 90, 200, 30, 10);
  WriteColour(dir / "teal/a.png", 33, 33, 0, 128, 128);
  ImageLoadOptions options;
  options.image.channels = 3;
  options.image.resize_height = 20;
  options.image.resize_width = 30;
  options.image.resize_mode = engine::Preprocessing::ResizeMode::kShorterSide;
  options.image.resize_shorter_side = 32;
  auto data = LoadClassFolders(dir.path(), options);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->shape, (ImageShape{3, 20, 30}));
  ASSERT_EQ(data->size(), 3);
  // CHW planes: a flat colour stays flat through resize and crop.
  const uint8_t* teal = data->image(2);
  for (int i = 0; i < 20 * 30; ++i) {
    ASSERT_EQ(teal[i], 0);
    ASSERT_EQ(teal[600 + i], 128);
    ASSERT_EQ(teal[1200 + i], 128);
  }
  const std::string path = dir / "colour.bin";
  ASSERT_TRUE(SaveDataset(*data, "colour", path).ok());
  auto loaded = LoadDataset(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->shape, data->shape);
  EXPECT_EQ(loaded->pixels, data->pixels);
  // Another shape does not merge into it.
  Dataset grey = MakeSyntheticDataset(1, 1, 1);
  EXPECT_EQ(AppendDataset(grey, &*loaded).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(loaded->size(), 3);
  // Previews and PNGs come out in colour.
  ASSERT_TRUE(WriteImageGrid(dir / "grid.png", *loaded, {0, 1}, 2).ok());
  ASSERT_TRUE(WriteDatasetImage(dir / "one.png", *loaded, 2).ok());  // Teal.
  auto png = ReadFile(dir / "one.png");
  ASSERT_TRUE(png.ok());
  auto pixels = engine::DecodePixels(*png, int64_t{1} << 20, int64_t{1} << 20);
  ASSERT_TRUE(pixels.ok()) << pixels.status();
  EXPECT_EQ(std::vector<int>({pixels->width, pixels->height, pixels->channels}),
            std::vector<int>({30, 20, 3}));
  EXPECT_EQ(pixels->at(5, 5, 1), 128);
}

TEST(CacheTest, ReadsTheFirstVersionAs28x28Grey) {
  // Version 1: magic, version, side 28, meta, no groups, one class, one image.
  std::string v1("ADPTDSET", 8);
  auto u32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) v1.push_back(static_cast<char>(v >> (8 * i)));
  };
  u32(1);
  u32(28);
  u32(4);
  v1 += "meta";
  u32(1);  // Groups.
  u32(1);
  v1 += "g";
  v1.push_back(0);  // Unassigned.
  u32(1);  // Classes.
  u32(0);
  u32(1);
  v1 += "c";
  for (int i = 0; i < 8; ++i) v1.push_back(i == 0 ? 1 : 0);  // One image.
  u32(0);  // Its label.
  v1.append(kImagePixels, '\x7f');
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(v1.data()), static_cast<uInt>(v1.size())));
  u32(crc);
  TempDir dir;
  const std::string path = dir / "v1.bin";
  std::ofstream(path, std::ios::binary) << v1;
  auto data = LoadDataset(path);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->shape, ImageShape{});
  EXPECT_EQ(data->size(), 1);
  EXPECT_EQ(data->image(0)[100], 0x7f);
}

// RGBA drawings with a transparent background: an opaque square.
void WriteDrawing(const std::string& path, int w, int h) {
  fs::create_directories(fs::path(path).parent_path());
  std::vector<uint8_t> rgba(static_cast<size_t>(w) * h * 4, 0);
  for (int y = h / 4; y < 3 * h / 4; ++y) {
    for (int x = w / 4; x < 3 * w / 4; ++x) {
      uint8_t* p = &rgba[(static_cast<size_t>(y) * w + x) * 4];
      p[0] = 40, p[1] = 60, p[2] = 200, p[3] = 255;
    }
  }
  ASSERT_NE(stbi_write_png(path.c_str(), w, h, 4, rgba.data(), w * 4), 0) << path;
}

TEST(ClipartTest, EachDrawingIsAClassOfDistinctDeterministicRendersSplitByCategory) {
  TempDir dir;
  WriteDrawing(dir / "animals/cat.png", 120, 90);
  WriteDrawing(dir / "animals/more/dog.png", 64, 64);
  WriteDrawing(dir / "tools/saw.png", 100, 160);
  std::vector<uint8_t> blank(16 * 16 * 4, 0);  // Nothing drawn: skipped.
  ASSERT_NE(stbi_write_png((dir / "tools/blank.png").c_str(), 16, 16, 4, blank.data(), 64), 0);
  std::ofstream(dir / "tools/broken.png") << "not a png";
  ClipartOptions o;
  o.root = dir.path();
  o.render.instances = 4;
  o.render.threads = 2;
  int skipped = 0;
  auto data = RenderClipart(o, &skipped, nullptr);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_TRUE(data->Validate().ok());
  EXPECT_EQ(skipped, 2);
  EXPECT_EQ(data->class_names,
            (std::vector<std::string>{"animals/cat.png", "animals/more/dog.png", "tools/saw.png"}));
  // Categories are folders two levels down (or less where a drawing lies
  // higher up), and each category goes wholly to one split.
  EXPECT_EQ(data->group_names, (std::vector<std::string>{"animals", "animals/more", "tools"}));
  std::vector<Split> splits = data->group_splits;
  std::sort(splits.begin(), splits.end());
  EXPECT_EQ(splits, (std::vector<Split>{Split::kTrain, Split::kVal, Split::kTest}));
  EXPECT_EQ(data->size(), 3 * 4);
  // As category tasks: one class per category, one image per drawing (its
  // first render), the category's split kept.
  Dataset categories = GroupsAsClasses(*data);
  ASSERT_TRUE(categories.Validate().ok());
  EXPECT_EQ(categories.class_names, data->group_names);
  EXPECT_EQ(categories.group_splits, data->group_splits);
  ASSERT_EQ(categories.size(), 3);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(std::vector<uint8_t>(categories.image(c), categories.image(c) + kImagePixels),
              std::vector<uint8_t>(data->image(4 * c), data->image(4 * c) + kImagePixels));
  }
  o.category_depth = 1;
  auto shallow = RenderClipart(o, nullptr, nullptr);
  ASSERT_TRUE(shallow.ok());
  EXPECT_EQ(shallow->group_names, (std::vector<std::string>{"animals", "tools"}));
  EXPECT_EQ(shallow->group_splits, (std::vector<Split>{Split::kTrain, Split::kTrain}))
      << "fewer than 3 categories: all meta-train";
  const std::string shallow_fingerprint = ClipartFingerprint(o);
  o.category_depth = 2;
  EXPECT_NE(shallow_fingerprint, ClipartFingerprint(o)) << "the depth is part of the cache key";
  for (int64_t i = 0; i < data->size(); ++i) {
    EXPECT_GT(Center(*data, i), 100) << "the shape is bright, image " << i;
    EXPECT_LT(Corner(*data, i), 10) << "the background is dark, image " << i;
  }
  // Instances of one drawing differ (the warps); a rerun gives the same.
  EXPECT_NE(std::vector<uint8_t>(data->image(0), data->image(0) + kImagePixels),
            std::vector<uint8_t>(data->image(1), data->image(1) + kImagePixels));
  auto again = RenderClipart(o, nullptr, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->pixels, data->pixels);
  EXPECT_EQ(ClipartFingerprint(o), ClipartFingerprint(o));
  o.root = dir / "nothing";
  EXPECT_EQ(RenderClipart(o, nullptr, nullptr).status().code(), absl::StatusCode::kNotFound);
}

// Colour renders at any size: the drawing keeps its colours (blue on white
// paper: the paper is not part of it), each render on its own random
// background colour; several roots merge their categories.
TEST(ClipartTest, ColourRendersAtAnySizeOnVariedBackgrounds) {
  TempDir dir;
  WriteDrawing(dir / "icons/apps/a.png", 48, 48);
  WriteDrawing(dir / "more/apps/b.png", 32, 32);
  std::vector<uint8_t> paper(60 * 40 * 4, 255);  // Opaque: white paper, a blue square.
  for (int y = 10; y < 30; ++y) {
    for (int x = 20; x < 40; ++x) {
      uint8_t* p = &paper[(y * 60 + x) * 4];
      p[0] = 30, p[1] = 40, p[2] = 220;
    }
  }
  fs::create_directories(dir / "more/places");
  ASSERT_NE(stbi_write_png((dir / "more/places/paper.png").c_str(), 60, 40, 4, paper.data(), 240),
            0);
  ClipartOptions o;
  o.root = absl::StrCat(dir / "icons", ",", dir / "more");
  o.category_depth = 1;
  o.render.instances = 6;
  o.render.shape = {3, 20, 30};
  auto data = RenderClipart(o, nullptr, nullptr);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_TRUE(data->Validate().ok());
  EXPECT_EQ(data->shape, (ImageShape{3, 20, 30}));
  EXPECT_EQ(data->group_names, (std::vector<std::string>{"apps", "places"}));
  ASSERT_EQ(data->num_classes(), 3);
  const int64_t plane = 20 * 30, centre = 10 * 30 + 15;
  std::set<std::vector<uint8_t>> corners;
  for (int64_t i = 0; i < data->size(); ++i) {
    const uint8_t* img = data->image(i);
    EXPECT_GT(img[2 * plane + centre], 150) << "blue at the centre, image " << i;
    EXPECT_LT(img[centre], 90) << "little red at the centre, image " << i;
    corners.insert({img[0], img[plane], img[2 * plane]});
  }
  EXPECT_GE(corners.size(), 15u) << "each render has its own background";
  const std::string grey = ClipartFingerprint(ClipartOptions{});
  EXPECT_NE(ClipartFingerprint(o), grey);
  auto again = RenderClipart(o, nullptr, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->pixels, data->pixels);
}

TEST(EmojiTest, EveryEmojiIsAColourClassGroupedByBlock) {
  if (!fs::exists(kEmojiFont)) GTEST_SKIP() << "fonts-noto-color-emoji is not installed";
  EmojiOptions o;
  o.render.instances = 2;
  o.render.shape = {3, 16, 16};
  int skipped = -1;
  auto data = RenderEmoji(o, &skipped, nullptr);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_TRUE(data->Validate().ok());
  EXPECT_GT(data->num_classes(), 1000);
  EXPECT_EQ(skipped, 0);
  EXPECT_GE(data->num_groups(), 20);
  const auto face = std::find(data->class_names.begin(), data->class_names.end(), "emoji/U+1F600");
  ASSERT_NE(face, data->class_names.end()) << "the grinning face";
  EXPECT_EQ(data->group_names[data->class_groups[face - data->class_names.begin()]],
            "emoticons/1F600");
  EXPECT_EQ(std::count(data->class_names.begin(), data->class_names.end(), "emoji/U+1F1FA"), 0)
      << "a regional indicator is not a picture alone";
  // Colour: somewhere the channels differ.
  const uint8_t* img = data->image(2 * (face - data->class_names.begin()));
  int coloured = 0;
  for (int i = 0; i < 256; ++i) coloured += std::abs(img[i] - img[512 + i]) > 40;
  EXPECT_GT(coloured, 10);

  o.font = "/nonexistent/emoji.ttf";
  EXPECT_EQ(RenderEmoji(o, nullptr, nullptr).status().code(), absl::StatusCode::kNotFound);
  o.font = "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf";
  if (fs::exists(o.font)) {
    auto plain = RenderEmoji(o, nullptr, nullptr);
    EXPECT_EQ(plain.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(plain.status().message().find("not a colour bitmap font"), std::string::npos);
  }
}

TEST(GroupsAsClassesTest, OneClassPerGroupOfEachClassesFirstImage) {
  Dataset data = MakeSyntheticDataset(/*groups=*/3, /*classes_per_group=*/4, /*instances=*/3);
  data.group_splits = {Split::kTrain, Split::kVal, Split::kTest};
  Dataset groups = GroupsAsClasses(data);
  ASSERT_TRUE(groups.Validate().ok());
  EXPECT_EQ(groups.class_names, data.group_names);
  EXPECT_EQ(groups.group_names, data.group_names);
  EXPECT_EQ(groups.group_splits, data.group_splits);
  const auto by_class = data.IndicesByClass();
  const auto by_group = groups.IndicesByClass();
  ASSERT_EQ(by_group.size(), 3u);
  for (int g = 0; g < 3; ++g) {
    ASSERT_EQ(by_group[g].size(), 4u) << "one image per class of the group";
    for (int k = 0; k < 4; ++k) {
      const int32_t c = 4 * g + k;
      ASSERT_EQ(data.class_groups[c], g);
      EXPECT_EQ(0, std::memcmp(groups.image(by_group[g][k]), data.image(by_class[c][0]),
                               kImagePixels));
    }
  }
  // The split of the view is the split of the groups: no class leaks.
  EXPECT_EQ(SplitClasses(groups, Split::kVal).class_names,
            std::vector<std::string>{data.group_names[1]});
}

TEST(AppendTest, RenumbersClassesAndGroupsAndKeepsSplitsWhenBothHaveThem) {
  Dataset a = MakeSyntheticDataset(/*groups=*/2, /*classes_per_group=*/2, /*instances=*/3);
  a.group_splits = {Split::kTrain, Split::kVal};
  Dataset b = MakeSyntheticDataset(1, 3, 2);
  b.group_splits = {Split::kTrain};
  for (auto& name : b.class_names) name = "b/" + name;  // Names stay unique.
  b.group_names = {"b"};
  const Dataset b_copy = b;
  Dataset merged = a;
  ASSERT_TRUE(AppendDataset(b, &merged).ok());
  ASSERT_TRUE(merged.Validate().ok());
  EXPECT_EQ(merged.num_groups(), 3);
  EXPECT_EQ(merged.num_classes(), 4 + 3);
  EXPECT_EQ(merged.size(), a.size() + b_copy.size());
  EXPECT_EQ(merged.group_splits, (std::vector<Split>{Split::kTrain, Split::kVal, Split::kTrain}));
  EXPECT_EQ(merged.labels.back(), 4 + b_copy.labels.back());
  EXPECT_EQ(merged.class_groups.back(), 2);
  EXPECT_TRUE(std::equal(b_copy.pixels.begin(), b_copy.pixels.end(),
                         merged.pixels.end() - static_cast<int64_t>(b_copy.pixels.size())));
  Dataset unsplit = MakeSyntheticDataset(1, 1, 1);
  unsplit.class_names = {"c/only"};
  unsplit.group_names = {"c"};
  ASSERT_TRUE(AppendDataset(unsplit, &merged).ok());
  EXPECT_TRUE(merged.group_splits.empty()) << "a part without splits drops them";
}

void WriteGz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

std::string IdxHeader(std::vector<uint32_t> dims) {
  std::string s = {0, 0, 8, static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  return s;
}

TEST(IdxTest, ReadsGzipAndPlainFilesAndFashionMnistLayout) {
  TempDir dir;
  std::string images = IdxHeader({3, 28, 28});
  for (int i = 0; i < 3; ++i) images.append(kImagePixels, static_cast<char>(10 * (i + 1)));
  const std::string labels = IdxHeader({3}) + std::string{9, 0, 4};
  WriteGz(dir / "t10k-images-idx3-ubyte.gz", images);
  WriteGz(dir / "t10k-labels-idx1-ubyte.gz", labels);
  std::ofstream(dir / "plain.idx", std::ios::binary) << labels;

  auto plain = ReadIdx(dir / "plain.idx");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->dims, (std::vector<int64_t>{3}));
  EXPECT_EQ(plain->data, (std::vector<uint8_t>{9, 0, 4}));

  auto data = LoadFashionMnist(dir.path(), /*test_split=*/true);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->size(), 3);
  EXPECT_EQ(data->num_classes(), 10);
  EXPECT_EQ(data->class_names[9], "ankle-boot");
  EXPECT_EQ(data->labels, (std::vector<int32_t>{9, 0, 4}));
  EXPECT_EQ(data->image(2)[0], 30);
  EXPECT_EQ(LoadFashionMnist(dir.path(), /*test_split=*/false).status().code(),
            absl::StatusCode::kNotFound);

  // Truncated data and a non-IDX file are errors, not crashes.
  WriteGz(dir / "short.gz", IdxHeader({3, 28, 28}) + "abc");
  EXPECT_EQ(ReadIdx(dir / "short.gz").status().code(), absl::StatusCode::kDataLoss);
  WriteGz(dir / "junk.gz", "hello world");
  EXPECT_FALSE(ReadIdx(dir / "junk.gz").ok());
}

TEST(IdxTest, ReadsTheInstalledFashionMnistTestSplit) {
  if (!fs::exists(kFashionMnistDir)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  auto data = LoadFashionMnist(kFashionMnistDir, /*test_split=*/true);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->size(), 10000);
  auto by_class = data->IndicesByClass();
  for (const auto& indices : by_class) EXPECT_EQ(indices.size(), 1000u);
}

TEST(WriterTest, WritesPngsThatDecodeBack) {
  TempDir dir;
  Dataset data = MakeSyntheticDataset(1, 2, 3);
  ASSERT_TRUE(WriteDatasetImage(dir / "x/one.png", data, 4).ok());
  std::ifstream in(dir / "x/one.png", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto decoded = DecodeForCache(bytes, ImageLoadOptions());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(std::equal(decoded->begin(), decoded->end(), data.image(4)));
  ASSERT_TRUE(WriteImageGrid(dir / "grid.png", data, {0, 1}, 3).ok());
  EXPECT_TRUE(fs::exists(dir / "grid.png"));
}

TEST(WriterTest, ClassPngsReadBackAsClassFolders) {
  TempDir dir;
  const Dataset data = MakeSyntheticDataset(1, 3, 6);
  ASSERT_TRUE(WriteClassPngs(data, {"group0/class2", "group0/class0"}, 2, 3, dir / "out").ok());
  // Class names with a slash become nested folders; read one level down.
  auto back = LoadClassFolders(dir / "out/group0");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->class_names, (std::vector<std::string>{"class0", "class2"}));
  ASSERT_EQ(back->size(), 4);
  const auto by_class = data.IndicesByClass();
  // class0's images 3 and 4, in file-name order.
  EXPECT_TRUE(std::equal(back->image(0), back->image(0) + kImagePixels, data.image(by_class[0][3])));
  EXPECT_TRUE(std::equal(back->image(3), back->image(3) + kImagePixels, data.image(by_class[2][4])));
  EXPECT_EQ(WriteClassPngs(data, {"nope"}, 1, 0, dir / "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteClassPngs(data, {"group0/class0"}, 5, 2, dir / "x").code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace adaptd::train
