// Runs the adapt-train binary as make models does: help for every command,
// then the whole pipeline on a tiny glyph set.
#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/cuda.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/test_util/tiny_models.h"
#include "tests/train/test_data.h"

extern "C" {
#include <stb/stb_image_write.h>
}

#ifndef ADAPT_TRAIN
#error "ADAPT_TRAIN must name the adapt-train binary"
#endif

namespace adaptd::train {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

using Result = testing::ToolResult;

Result RunTool(const std::string& args) { return testing::RunTool(ADAPT_TRAIN, args); }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Each paired delta in an eval report is META's accuracy minus the
// baseline's (same episodes); there are `expected` of them.
void ExpectPairedDeltasMatchRows(const std::string& json_path, int expected) {
  const nlohmann::json json = nlohmann::json::parse(ReadText(json_path));
  std::map<std::string, double> accuracy;  // "WAYSxSHOTS method" -> accuracy.
  auto setting = [](const nlohmann::json& row) {
    return absl::StrCat(row["ways"].get<int>(), "x", row["shots"].get<int>());
  };
  for (const auto& row : json["rows"]) {
    accuracy[setting(row) + " " + row["method"].get<std::string>()] = row["accuracy"].get<double>();
  }
  int deltas = 0;
  for (const auto& p : json["meta_minus_baseline"]) {
    const std::string at = setting(p) + " ";
    EXPECT_NEAR(p["delta"].get<double>(),
                accuracy[at + "META-5"] - accuracy[at + p["baseline"].get<std::string>()], 2e-5)
        << p.dump();
    ++deltas;
  }
  EXPECT_EQ(deltas, expected) << json.dump(2);
}

// tune-finetune's table lists every rate of the grid (`rates` of them) and
// "best:" names the rate with the highest accuracy.
void ExpectBestRateChosen(const std::string& output, size_t rates) {
  std::map<double, double> accuracy_at;  // lr -> printed accuracy.
  double best_accuracy = -1, chosen = -1;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    double lr = 0, accuracy = 0;
    if (std::sscanf(std::string(line).c_str(), "| %lf | %lf%% |", &lr, &accuracy) == 2) {
      accuracy_at[lr] = accuracy;
      best_accuracy = std::max(best_accuracy, accuracy);
    }
    if (absl::StartsWith(line, "best: ")) chosen = std::stod(std::string(line.substr(6)));
  }
  EXPECT_EQ(accuracy_at.size(), rates) << output;
  ASSERT_EQ(accuracy_at.count(chosen), 1u) << output;
  EXPECT_EQ(accuracy_at[chosen], best_accuracy) << "not the best rate: " << output;
}

TEST(AdaptTrainCliTest, EveryCommandHasHelp) {
  // One launch for all (loading LibTorch dominates a launch), then the
  // per-command path once.
  const Result all = RunTool("help all");
  ASSERT_EQ(all.code, 0) << all.output;
  const std::vector<std::string> blocks = absl::StrSplit(all.output, "\n----\n");
  // The general usage lists "  <command>  <summary>" lines after "commands:".
  std::vector<std::string> commands;
  bool in_list = false;
  for (absl::string_view line : absl::StrSplit(blocks[0], '\n')) {
    if (line == "commands:") {
      in_list = true;
    } else if (in_list && absl::StartsWith(line, "  ")) {
      line.remove_prefix(2);
      commands.emplace_back(line.substr(0, line.find("  ")));
    } else if (in_list) {
      break;
    }
  }
  for (const std::string expected : {"data glyphs", "data omniglot", "data folders", "data info",
                                     "data preview", "fashion-mnist-png", "pretrain", "export",
                                     "proto-eval"}) {
    EXPECT_NE(std::find(commands.begin(), commands.end(), expected), commands.end()) << expected;
  }
  ASSERT_EQ(blocks.size(), commands.size() + 1) << all.output;
  for (size_t i = 0; i < commands.size(); ++i) {
    const std::string& help = blocks[i + 1];
    EXPECT_EQ(help.rfind("usage: adapt-train " + commands[i], 0), 0u) << help;
    EXPECT_NE(help.find("flags:\n  --"), std::string::npos) << help;
    EXPECT_NE(help.find("default: "), std::string::npos) << help;
  }
  const Result pretrain = RunTool("pretrain --help");
  EXPECT_EQ(pretrain.code, 0);
  const size_t at = std::find(commands.begin(), commands.end(), "pretrain") - commands.begin();
  ASSERT_LT(at, commands.size());
  EXPECT_EQ(absl::StripTrailingAsciiWhitespace(pretrain.output),
            absl::StripTrailingAsciiWhitespace(blocks[at + 1]));
  EXPECT_NE(pretrain.output.find("--resume"), std::string::npos);
  const Result unknown = RunTool("frobnicate");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.output.find("unknown command \"frobnicate\""), std::string::npos);
}

TEST(AdaptTrainCliTest, TinyPipelineFromGlyphsToAServableModel) {
  TempDir dir;
  const std::string data = dir / "glyphs.bin";
  const std::string glyphs = absl::StrCat(
      "data glyphs --out ", data, " --max_scripts 12 --max_classes_per_script 8 ",
      "--min_classes_per_script 6 --instances 6 --threads 2");
  Result r = RunTool(glyphs);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("12 scripts"), std::string::npos) << r.output;
  r = RunTool(glyphs);  // The cache is current: nothing is redone.
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("up to date"), std::string::npos) << r.output;
  r = RunTool(absl::StrCat("data info ", data));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("train"), std::string::npos);

  const std::string work = dir / "work";
  r = RunTool(absl::StrCat("pretrain --data ", data, " --work_dir ", work,
                       " --max_steps 3 --batch_size 16 --eval_episodes 10 --threads 1"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("meta-val PROTOTYPE 5-way 1-shot"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ETA"), std::string::npos) << r.output;
  const nlohmann::json pretrained = nlohmann::json::parse(ReadText(work + "/report.json"));
  EXPECT_EQ(pretrained["steps_done"], 3) << pretrained.dump(2);
  EXPECT_EQ(pretrained["meta_val_prototype"].size(), 2u) << pretrained.dump(2);

  const std::string model = dir / "models/tiny";
  r = RunTool(absl::StrCat("export --weights ", work, "/backbone.pt --name tiny --out ", model));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string config = ReadText(model + "/model.pbtxt");
  EXPECT_NE(config.find("name: \"tiny\""), std::string::npos) << config;
  EXPECT_NE(config.find("format: \"conv4\""), std::string::npos) << config;
  EXPECT_NE(config.find("feature_dim: 64"), std::string::npos) << config;

  r = RunTool(absl::StrCat("proto-eval --model ", model, " --data ", data,
                       " --split all --episodes 5 --queries 2 --shots 1 --threads 1"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("| 5-way 1-shot |"), std::string::npos) << r.output;

  // Meta-training with a second task domain (here the same cache again),
  // then eval of the exported model with the meta-learner.
  r = RunTool(absl::StrCat("metatrain --model ", model, " --data ", data, " --extra_data ", data,
                           " --meta_work_dir ", work, "/meta --meta_steps 3 --meta_batch 2",
                           " --settings 5x1 --queries 1 --val_every 0 --threads 1"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("metatrain training: + "), std::string::npos) << r.output;
  const nlohmann::json metatrained = nlohmann::json::parse(ReadText(work + "/meta/report.json"));
  EXPECT_EQ(metatrained["steps_done"], 3) << metatrained.dump(2);
  EXPECT_EQ(metatrained["meta_batch"], 2) << metatrained.dump(2);
  const std::string meta_model = dir / "models/tiny-meta";
  r = RunTool(absl::StrCat("export --weights ", work, "/backbone.pt --meta_learner ", work,
                           "/meta/meta_learner.pt --name tiny --out ", meta_model));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string report = dir / "eval";
  r = RunTool(absl::StrCat("eval --model ", meta_model, " --data ", data,
                           " --episodes 4 --queries 1 --curve_episodes 2 --fashion_dir= --threads 1",
                           " --report ", report));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string table = ReadText(report + ".md");
  EXPECT_NE(table.find("| glyphs | 20-way 5-shot | META-5 |"), std::string::npos) << table;
  EXPECT_NE(table.find("META-5 minus each baseline"), std::string::npos) << table;
  EXPECT_TRUE(fs::exists(report + ".png"));
  // 4 settings x PIXELS, PROTOTYPE, FINETUNE-5, FINETUNE-50.
  ExpectPairedDeltasMatchRows(report + ".json", 4 * 4);

  // The default method: META only if it beats both baselines beyond the
  // paired CI; else the better baseline, as the printed figures say.
  for (const std::string& m : {meta_model, model}) {
    r = RunTool(absl::StrCat("choose-default --model ", m, " --data ", data,
                             " --val_episodes 6"));
    ASSERT_EQ(r.code, 0) << r.output;
    const auto figure = [&](const std::string& method) {
      const size_t at = r.output.find(absl::StrCat("| ", method, " | "));
      EXPECT_NE(at, std::string::npos) << r.output;
      return std::stod(r.output.substr(at + method.size() + 5));
    };
    const double prototype = figure("PROTOTYPE"), finetune = figure("FINETUNE-5");
    const bool has_meta = m == meta_model;
    EXPECT_EQ(absl::StrContains(r.output, "| META-5 | "), has_meta) << r.output;
    const bool keep = absl::StrContains(r.output, "meta_learner: keep\n");
    EXPECT_TRUE(keep || absl::StrContains(r.output, has_meta ? "meta_learner: drop\n"
                                                              : "meta_learner: none\n"))
        << r.output;
    // FINETUNE only where it beats PROTOTYPE beyond the paired CI the
    // reason gives, "FINETUNE-5 80.00% (+3.67 +- 5.66 points)".
    double gain = 0, ci = 0;
    const size_t paired = r.output.find("%", r.output.find("reason: meta-val PROTOTYPE"));
    const size_t at = r.output.find("% (", paired + 1);
    ASSERT_NE(at, std::string::npos) << r.output;
    ASSERT_EQ(std::sscanf(r.output.c_str() + at, "%% (%lf +- %lf", &gain, &ci), 2) << r.output;
    EXPECT_NEAR(gain, finetune - prototype, 0.011) << r.output;
    const std::string expected = keep ? "meta" : gain > ci ? "finetune" : "prototype";
    EXPECT_TRUE(absl::StrContains(r.output, "default: " + expected + "\n")) << r.output;
  }

  r = RunTool(absl::StrCat("export --weights ", dir / "missing.pt", " --out ", dir / "models/x"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("missing.pt does not exist"), std::string::npos) << r.output;
}

TEST(AdaptTrainCliTest, GroupsAsClassesTrainChooseAndEvaluate) {
  // FILE:groups names a cache's groups as classes (clip-art categories in
  // make models; here the scripts of a tiny glyph set, 8 characters each).
  TempDir dir;
  const std::string data = dir / "glyphs.bin";
  Result r = RunTool(absl::StrCat(
      "data glyphs --out ", data, " --max_scripts 12 --max_classes_per_script 8 ",
      "--min_classes_per_script 6 --instances 6 --threads 2 --train_fraction 0.2 --val_fraction 0.4"));
  ASSERT_EQ(r.code, 0) << r.output;
  // Every command that names a cache takes the view: 12 scripts of 8
  // characters become 12 classes of 8 images.
  r = RunTool(absl::StrCat("data info ", data, ":groups"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("96 images, 12 classes, 12 groups"), std::string::npos) << r.output;
  r = RunTool(absl::StrCat("proto-eval --model missing --data ", data, ":groups --split val"));
  EXPECT_EQ(r.code, 1);  // The data loads (5 val scripts as classes); the model does not.
  EXPECT_NE(r.output.find("missing"), std::string::npos) << r.output;
  const std::string work = dir / "work";
  r = RunTool(absl::StrCat("pretrain --data ", data, " --work_dir ", work,
                           " --max_steps 2 --batch_size 16 --eval_episodes 0 --threads 1"));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string model = dir / "model";
  r = RunTool(absl::StrCat("export --weights ", work, "/backbone.pt --name tiny --out ", model));
  ASSERT_EQ(r.code, 0) << r.output;
  r = RunTool(absl::StrCat("proto-eval --model ", model, " --data ", data,
                           ":groups --split val --episodes 3 --queries 2 --threads 1"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(":groups (val) | 5-way 5-shot |"), std::string::npos) << r.output;

  // FINETUNE's rate is chosen on both meta-vals: the best mean, printed.
  r = RunTool(absl::StrCat("tune-finetune --model ", model, " --data ", data, " --val_data ", data,
                           ":groups --lr_grid 0.003,0.1,1,10 --val_episodes 4 --threads 1"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("tune-finetune meta-val: + 5 classes"), std::string::npos) << r.output;
  ExpectBestRateChosen(r.output, 4);
  r = RunTool(absl::StrCat("tune-finetune --model ", model, " --data ", data, " --lr_grid 0.1,x"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--lr_grid: \"x\" is not a positive number"), std::string::npos)
      << r.output;

  // The view's val split (5 scripts) joins meta-val; its train split (2
  // scripts) is too small for 5-way tasks, and says so.
  const std::string metatrain = absl::StrCat(
      "metatrain --model ", model, " --data ", data, " --val_data ", data, ":groups --meta_work_dir ",
      work, "/meta --meta_steps 2 --meta_batch 2 --settings 5x1 --queries 1 --val_every 1",
      " --val_episodes 2 --threads 1");
  r = RunTool(absl::StrCat(metatrain, " --extra_data ", data, ":groups"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("metatrain training: + 2 classes"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("too few classes with enough images"), std::string::npos) << r.output;
  r = RunTool(metatrain);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("metatrain meta-val: + 5 classes"), std::string::npos) << r.output;
  const std::string meta_model = dir / "meta-model";
  r = RunTool(absl::StrCat("export --weights ", work, "/backbone.pt --meta_learner ", work,
                           "/meta/meta_learner.pt --name tiny --out ", meta_model));
  ASSERT_EQ(r.code, 0) << r.output;

  // eval scores the view's meta-test split as a cross-domain row of its own.
  const std::string report = dir / "eval";
  r = RunTool(absl::StrCat("eval --model ", meta_model, " --data ", data, " --cross_data ", data,
                           ":groups --fashion_dir= --episodes 3 --queries 1 --curve_episodes 0",
                           " --threads 1 --report ", report));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string table = ReadText(report + ".md");
  EXPECT_NE(table.find("| glyphs:groups | 5-way 5-shot | META-5 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| glyphs:groups | 5-way 1-shot | PROTOTYPE |"), std::string::npos) << table;
  r = RunTool(absl::StrCat("eval --model ", meta_model, " --data ", data, " --cross_data ",
                           dir / "none.bin", ":groups --fashion_dir= --report ", report));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("none.bin"), std::string::npos) << r.output;
}

// A user's photos and TorchScript backbone: 40 colour classes of PNGs of
// mixed sizes, and a small RGB convolutional net saved by LibTorch.
void WriteOwnData(const fs::path& dir) {
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>(state >> 33);
  };
  for (int k = 0; k < 40; ++k) {
    const int base[3] = {next() % 256, next() % 256, next() % 256};
    fs::create_directories(dir / "photos" / absl::StrCat("c", k));
    for (int i = 0; i < 16; ++i) {
      const int w = 20 + next() % 40, h = 20 + next() % 40;
      std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
      for (size_t j = 0; j < rgb.size(); ++j) {
        rgb[j] = static_cast<uint8_t>(std::clamp(base[j % 3] + next() % 61 - 30, 0, 255));
      }
      const std::string path = (dir / "photos" / absl::StrCat("c", k) / absl::StrCat(i, ".png"));
      ASSERT_NE(stbi_write_png(path.c_str(), w, h, 3, rgb.data(), w * 3), 0);
    }
  }
  adaptd::testing::SaveTinyRgbTorchScript((dir / "net.pt").string());
}

TEST(AdaptTrainCliTest, OwnColourPhotosAndTorchScriptBackboneThroughThePipeline) {
  TempDir dir;
  WriteOwnData(dir.path());
  const std::string d = dir.path();
  auto run = [](const std::string& args) {
    Result r = RunTool(args);
    EXPECT_EQ(r.code, 0) << args << "\n" << r.output;
    return r.output;
  };
  EXPECT_TRUE(absl::StrContains(
      run(absl::StrCat("data folders --root ", d, "/photos --size 24 --channels 3 --out ", d,
                       "/photos.bin")),
      "640 images, 40 classes"));
  EXPECT_TRUE(absl::StrContains(run(absl::StrCat("data info ", d, "/photos.bin")), "3x24x24 RGB"));
  const std::string import = absl::StrCat("import --torchscript ", d, "/net.pt --input_shape 3,24,24",
                                          " --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25 --out ", d,
                                          "/models/net");
  EXPECT_TRUE(absl::StrContains(run(import), "imported net: 16-dimensional features"));
  const std::string on = absl::StrCat(" --model ", d, "/models/net --data ", d, "/photos.bin");
  // Flat colours with noise: PROTOTYPE on a random net tells them apart.
  const std::string proto = run(absl::StrCat("proto-eval", on, " --ways 5 --shots 1 --episodes 40"));
  EXPECT_TRUE(absl::StrContains(proto, "5-way 1-shot")) << proto;
  EXPECT_TRUE(absl::StrContains(run(absl::StrCat("tune-finetune", on, " --val_episodes 10",
                                                 " --lr_grid 0.01,0.1")),
                                "best: "));
  run(absl::StrCat("metatrain", on, " --meta_steps 3 --meta_batch 2 --val_every 3",
                   " --val_episodes 10 --settings 5x1 --meta_work_dir ", d, "/meta"));
  ASSERT_TRUE(fs::exists(dir / "meta/meta_learner.pt"));
  run(absl::StrCat(import, " --meta_learner ", d, "/meta/meta_learner.pt"));
  // eval at 5-way only (the set has 10 meta-test classes), Fashion-MNIST as RGB.
  const std::string eval =
      run(absl::StrCat("eval", on, " --ways 5 --shots 1 --episodes 10 --queries 10",
                       " --curve_episodes 2 --report ", d, "/eval"));
  EXPECT_TRUE(absl::StrContains(eval, "| photos | 5-way 1-shot | META-5 |")) << eval;
  EXPECT_TRUE(absl::StrContains(eval, "| fashion-mnist | 5-way 1-shot | PROTOTYPE |")) << eval;
  EXPECT_FALSE(absl::StrContains(eval, "20-way")) << eval;
  EXPECT_TRUE(absl::StrContains(ReadText(d + "/models/net/model.pbtxt"),
                                "meta_learner_file: \"meta_learner.pt\""));
  // A grey 28x28 cache does not fit the RGB backbone.
  run(absl::StrCat("data folders --root ", d, "/photos --out ", d, "/grey.bin"));
  const Result wrong = RunTool(absl::StrCat("proto-eval --model ", d, "/models/net --data ", d,
                                            "/grey.bin"));
  EXPECT_NE(wrong.code, 0);
  EXPECT_TRUE(absl::StrContains(wrong.output, "takes [3,24,24] inputs; these images are [1,28,28]"))
      << wrong.output;
  // A native backbone pretrains at the cache's shape, and export takes the
  // shape from the pretraining report.
  run(absl::StrCat("pretrain --data ", d, "/photos.bin --work_dir ", d,
                   "/pre --max_steps 2 --batch_size 8 --flip --grey 0.5 --eval_episodes 0"));
  run(absl::StrCat("export --weights ", d, "/pre/backbone.pt --name native --out ", d,
                   "/models/native --resize_mode shorter_side"));
  const std::string native = ReadText(d + "/models/native/model.pbtxt");
  EXPECT_TRUE(absl::StrContains(native, "input_shape: 3\ninput_shape: 24\ninput_shape: 24"))
      << native;
  EXPECT_TRUE(absl::StrContains(native, "resize_mode: \"shorter_side\"")) << native;
  EXPECT_TRUE(absl::StrContains(run(absl::StrCat("proto-eval --model ", d, "/models/native --data ",
                                                 d, "/photos.bin --ways 5 --shots 1 --episodes 5")),
                                "5-way 1-shot"));
  const Result shift = RunTool(absl::StrCat("pretrain --data ", d, "/photos.bin --work_dir ", d,
                                            "/pre2 --max_steps 1 --max_shift 24"));
  EXPECT_NE(shift.code, 0);
  EXPECT_TRUE(absl::StrContains(shift.output, "max_shift: must be in [0,23]")) << shift.output;
  const Result grey = RunTool(absl::StrCat("pretrain --data ", d, "/photos.bin --work_dir ", d,
                                           "/pre3 --max_steps 1 --grey 2"));
  EXPECT_NE(grey.code, 0);
  EXPECT_TRUE(absl::StrContains(grey.output, "grey: must be in [0,1]")) << grey.output;
}

// The commands that compute take --device and check it before reading any
// data: each names a cache that does not exist, so an error about the device
// shows that it came first.
std::vector<std::string> DeviceCommands(const TempDir& dir) {
  const std::string missing = dir / "missing.bin";
  const std::string model = dir / "model";
  return {absl::StrCat("pretrain --data ", missing, " --work_dir ", dir / "work"),
          absl::StrCat("tune-finetune --model ", model, " --data ", missing),
          absl::StrCat("metatrain --model ", model, " --data ", missing, " --meta_work_dir ",
                       dir / "meta"),
          absl::StrCat("proto-eval --model ", model, " --data ", missing),
          absl::StrCat("eval --model ", model, " --data ", missing, " --fashion_dir= --report ",
                       dir / "eval")};
}

TEST(AdaptTrainCliTest, DeviceIsCheckedBeforeAnyDataIsRead) {
  TempDir dir;
  for (const std::string& command : DeviceCommands(dir)) {
    const std::string name = command.substr(0, command.find(' '));
    const Result help = RunTool(name + " --help");
    EXPECT_TRUE(absl::StrContains(help.output, "--device (")) << help.output;
    EXPECT_TRUE(absl::StrContains(help.output, "LibTorch built with CUDA")) << help.output;

    const Result tpu = RunTool(command + " --device tpu");
    EXPECT_EQ(tpu.code, 1) << command << "\n" << tpu.output;
    EXPECT_TRUE(absl::StrContains(
        tpu.output, "INVALID_ARGUMENT: --device: \"tpu\" is not cpu, cuda or cuda:N"))
        << command << "\n" << tpu.output;
    EXPECT_FALSE(absl::StrContains(tpu.output, "missing.bin")) << tpu.output;
    if (torch::cuda::is_available()) continue;
    for (const std::string cuda : {"cuda", "cuda:1"}) {
      const Result r = RunTool(absl::StrCat(command, " --device ", cuda));
      EXPECT_EQ(r.code, 1) << command << "\n" << r.output;
      EXPECT_TRUE(absl::StrContains(
          r.output, absl::StrCat("FAILED_PRECONDITION: --device ", cuda,
                                 ": this LibTorch build has no CUDA device")))
          << command << "\n" << r.output;
      EXPECT_TRUE(absl::StrContains(r.output, "use --device cpu")) << r.output;
      EXPECT_FALSE(absl::StrContains(r.output, "missing.bin")) << r.output;
    }
  }
  // On the CPU (the default, or named) the command goes on to the data.
  const std::string pretrain = DeviceCommands(dir)[0];
  for (const std::string device : {"", " --device cpu"}) {
    const Result cpu = RunTool(pretrain + device);
    EXPECT_EQ(cpu.code, 1) << cpu.output;
    EXPECT_TRUE(absl::StrContains(cpu.output, "missing.bin")) << cpu.output;
  }
  EXPECT_FALSE(fs::exists(dir / "work"));
  EXPECT_FALSE(fs::exists(dir / "meta"));
}

// With a GPU: the pipeline's training and evaluation commands on it, and a
// checkpoint written there resumed on the CPU. export loads backbone.pt on
// the CPU, so a GPU run's weights must load without it.
TEST(AdaptTrainCliTest, ThePipelineRunsOnAGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "this LibTorch has no CUDA device";
  TempDir dir;
  const std::string data = dir / "glyphs.bin";
  Result r = RunTool(absl::StrCat("data glyphs --out ", data, " --max_scripts 12 ",
                                  "--max_classes_per_script 8 --min_classes_per_script 6 ",
                                  "--instances 6 --threads 2"));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string work = dir / "work";
  const std::string pretrain = absl::StrCat("pretrain --data ", data, " --work_dir ", work,
                                            " --batch_size 16 --eval_episodes 10");
  r = RunTool(pretrain + " --max_steps 2 --device cuda");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "on cuda:0")) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "meta-val PROTOTYPE 5-way 1-shot")) << r.output;
  EXPECT_EQ(nlohmann::json::parse(ReadText(work + "/report.json"))["steps_done"], 2);
  r = RunTool(pretrain + " --max_steps 3 --resume --device cpu");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(ReadText(work + "/report.json"))["steps_done"], 3);
  r = RunTool(pretrain + " --max_steps 4 --resume --device cuda:0");
  ASSERT_EQ(r.code, 0) << r.output;

  const std::string model = dir / "model";
  r = RunTool(absl::StrCat("export --weights ", work, "/backbone.pt --name tiny --out ", model));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string on = absl::StrCat(" --model ", model, " --data ", data, " --device cuda");
  r = RunTool(absl::StrCat("proto-eval", on, " --split all --episodes 5 --queries 2 --shots 1"));
  ASSERT_EQ(r.code, 0) << r.output;
  r = RunTool(absl::StrCat("tune-finetune", on, " --lr_grid 0.01,0.1 --val_episodes 4"));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string metatrain =
      absl::StrCat("metatrain", on, " --meta_work_dir ", work, "/meta --meta_batch 2",
                   " --settings 5x1 --queries 1 --val_every 1 --val_episodes 2");
  r = RunTool(metatrain + " --meta_steps 2");
  ASSERT_EQ(r.code, 0) << r.output;
  r = RunTool(absl::StrCat(metatrain, " --meta_steps 3 --resume --device cpu"));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string meta_model = dir / "meta-model";
  r = RunTool(absl::StrCat("export --weights ", work, "/backbone.pt --meta_learner ", work,
                           "/meta/meta_learner.pt --name tiny --out ", meta_model));
  ASSERT_EQ(r.code, 0) << r.output;
  r = RunTool(absl::StrCat("eval --model ", meta_model, " --data ", data, " --device cuda",
                           " --episodes 4 --queries 1 --curve_episodes 2 --fashion_dir=",
                           " --report ", dir / "eval"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(absl::StrContains(ReadText(dir / "eval.md"), "| glyphs | 5-way 1-shot | META-5 |"));
}

TEST(AdaptTrainCliTest, FashionMnistPngsForTheDemo) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "no Fashion-MNIST";
  TempDir dir;
  Result r = RunTool(absl::StrCat("fashion-mnist-png --out ", dir / "support",
                              " --classes t-shirt,ankle-boot --per_class 2"));
  ASSERT_EQ(r.code, 0) << r.output;
  r = RunTool(absl::StrCat("fashion-mnist-png --out ", dir / "query",
                       " --classes t-shirt,ankle-boot --per_class 3 --offset 2"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "support/t-shirt/0.png"));
  EXPECT_TRUE(fs::exists(dir / "support/ankle-boot/1.png"));
  EXPECT_FALSE(fs::exists(dir / "support/t-shirt/2.png"));
  EXPECT_TRUE(fs::exists(dir / "query/ankle-boot/2.png"));
  EXPECT_TRUE(fs::exists(dir / "query/ankle-boot/4.png"));
  EXPECT_FALSE(fs::exists(dir / "query/t-shirt/1.png"));
  r = RunTool(absl::StrCat("fashion-mnist-png --out ", dir / "x", " --classes hat"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("unknown class \"hat\""), std::string::npos) << r.output;
}

// text-examples: the same classes in support and query, disjoint texts.
TEST(AdaptTrainCliTest, TextExamplesForTheDemo) {
  TempDir dir;
  // 9 groups of one class each (so the set is split 3 ways); classes 0-2
  // have 4 texts, the others 12.
  std::string tsv;
  for (int c = 0; c < 9; ++c) {
    for (int i = 0; i < (c < 3 ? 4 : 12); ++i) {
      absl::StrAppend(&tsv, "g", c, "/c", c, "\ttext ", c, " number ", i, "\n");
    }
  }
  std::ofstream(dir / "set.tsv") << tsv;
  const std::string set = dir / "set.tsv";
  Result r = RunTool(absl::StrCat("text-examples --data ", set, " --split all --num_classes 3",
                                  " --per_class 2 --queries 4 --out ", dir / "demo"));
  ASSERT_EQ(r.code, 0) << r.output;
  std::map<std::string, std::vector<std::string>> support, query;
  for (auto [file, into] : {std::pair{"demo/support.tsv", &support}, std::pair{"demo/query.tsv", &query}}) {
    for (absl::string_view line : absl::StrSplit(ReadText(dir / file), '\n', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(line, '\t');
      ASSERT_EQ(f.size(), 2u) << line;
      (*into)[f[0]].push_back(f[1]);
    }
  }
  ASSERT_EQ(support.size(), 3u);
  for (const auto& [label, texts] : support) {
    EXPECT_GE(label, "g3/c3") << "classes without 6 texts are never picked";
    ASSERT_EQ(texts.size(), 2u) << label;
    ASSERT_EQ(query[label].size(), 4u) << label;  // The same classes.
    for (const std::string& t : texts) {
      EXPECT_EQ(std::count(query[label].begin(), query[label].end(), t), 0) << t;
    }
  }
  r = RunTool(absl::StrCat("text-examples --data ", set, " --split all --per_class 20 --out ",
                           dir / "x"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--num_classes: only 0 classes"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace adaptd::train
