// adapt-train import: a TorchScript image backbone or text encoder (with its
// WordPiece or SentencePiece tokenizer) that the test builds itself goes
// from file to a model folder adaptd serves, and what cannot be served is
// refused with a message that says why.
#include "train/import.h"

#include <filesystem>
#include <fstream>

#include <torch/script.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "server/common/file_util.h"
#include "server/engine/engine.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/text_models.h"

namespace adaptd::train {
namespace {

using ::testing::HasSubstr;

// A module taking [B,3,8,8] to `returns` (TorchScript source over `x`,
// with `self.proj` a [192, 16] matrix).
std::string SaveModule(const std::string& dir, const std::string& returns) {
  torch::manual_seed(3);
  torch::jit::Module module("Backbone");
  module.register_parameter("proj", torch::randn({3 * 8 * 8, 16}), false);
  module.define("def forward(self, x):\n    return " + returns + "\n");
  const std::string path = dir + "/backbone.ts";
  module.save(path);
  return path;
}

constexpr char kFeatures[] = "torch.relu(torch.matmul(x.flatten(1), self.proj))";

ImportOptions Options(const std::string& dir, const std::string& file) {
  ImportOptions o;
  o.torchscript = file;
  o.input_shape = {3, 8, 8};
  o.preprocessing.set_resize_mode("shorter_side");
  o.preprocessing.set_resize_shorter_side(10);
  for (float m : {0.5f, 0.4f, 0.3f}) o.preprocessing.add_mean(m);
  for (float s : {0.2f, 0.25f, 0.3f}) o.preprocessing.add_std(s);
  o.name = "user-net";
  o.out_dir = dir + "/models/user-net";
  return o;
}

// A w x h RGB PNG of one colour, with some texture.
std::string ColourPng(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < rgb.size(); i += 3) {
    const uint8_t t = static_cast<uint8_t>((i / 3) % 7 * 4);
    rgb[i] = r + t;
    rgb[i + 1] = g + t;
    rgb[i + 2] = b + t;
  }
  return testing::EncodePng(rgb, w, h, 3);
}

TEST(ImportTest, AUsersBackboneIsServedFromItsFile) {
  const std::string dir = testing::MakeTempDir("import_ok");
  auto report = ImportTorchScript(Options(dir, SaveModule(dir, kFeatures)));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->feature_dim, 16);
  EXPECT_EQ(report->parameters, 3 * 8 * 8 * 16);
  auto pbtxt = ReadFile(dir + "/models/user-net/model.pbtxt");
  ASSERT_TRUE(pbtxt.ok());
  EXPECT_THAT(*pbtxt, HasSubstr("resize_mode: \"shorter_side\""));
  EXPECT_THAT(*pbtxt, HasSubstr("feature_dim: 16"));

  // Served: adapt on PNGs of other sizes and aspect ratios, then predict.
  engine::EngineOptions eo;
  eo.model_repository = dir + "/models";
  eo.device = "cpu";
  auto engine = engine::Engine::Create(eo);
  ASSERT_TRUE(engine.ok()) << engine.status();
  ASSERT_EQ((*engine)->ListBackbones().size(), 1u);
  EXPECT_EQ((*engine)->ListBackbones()[0].preprocessing.resize_shorter_side, 10);
  const std::string red = ColourPng(31, 17, 200, 10, 10), blue = ColourPng(12, 40, 10, 10, 200);
  engine::Engine::AdaptRequest adapt;
  adapt.backbone = "user-net";
  adapt.method = engine::Method::kPrototype;
  for (const auto* png : {&red, &blue}) {
    engine::LabeledInput example;
    example.label = png == &red ? "red" : "blue";
    example.input.kind = engine::InputRef::Kind::kImage;
    example.input.data = *png;
    adapt.support.push_back(example);
  }
  engine::CallContext ctx;
  auto adapter = (*engine)->Adapt(adapt, ctx);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  engine::Engine::PredictRequest predict;
  predict.adapter_id = (*adapter)->info.adapter_id;
  const std::string other_blue = ColourPng(64, 64, 20, 20, 190);
  engine::InputRef query;
  query.kind = engine::InputRef::Kind::kImage;
  query.data = other_blue;
  predict.inputs.push_back(query);
  auto result = (*engine)->Predict(predict, ctx);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->predictions[0].label, "blue");
}

TEST(ImportTest, RefusesWhatItCannotServe) {
  const std::string dir = testing::MakeTempDir("import_bad");
  auto refused = [&](ImportOptions o) {
    auto report = ImportTorchScript(o);
    EXPECT_FALSE(report.ok());
    EXPECT_FALSE(std::filesystem::exists(o.out_dir + "/model.pbtxt"));
    return std::string(report.status().message());
  };
  const std::string garbage = dir + "/garbage.pt";
  std::ofstream(garbage) << "not a module";
  EXPECT_THAT(refused(Options(dir, garbage)), HasSubstr("is not a TorchScript module"));
  EXPECT_THAT(refused(Options(dir, dir + "/missing.pt")), HasSubstr("is not a file"));

  const std::string sub = testing::MakeTempDir("import_3d");
  EXPECT_THAT(refused(Options(sub, SaveModule(sub, std::string(kFeatures) + ".unsqueeze(2)"))),
              HasSubstr("returns [2,16,1] Float; adaptd needs [B,D]"));
  const std::string tuple = testing::MakeTempDir("import_tuple");
  EXPECT_THAT(refused(Options(tuple, SaveModule(tuple, "(x, x)"))),
              HasSubstr("forward returns Tuple"));

  const std::string shape = testing::MakeTempDir("import_shape");
  ImportOptions wrong = Options(shape, SaveModule(shape, kFeatures));
  wrong.input_shape = {1, 8, 8};
  wrong.preprocessing.clear_mean();
  wrong.preprocessing.clear_std();
  EXPECT_THAT(refused(wrong), HasSubstr("input_shape: the module fails on a [2,1,8,8] batch"));
  wrong.input_shape = {4, 8, 8};
  EXPECT_THAT(refused(wrong), HasSubstr("1 (grey) or 3 (RGB) channels"));
  ImportOptions bad_mode = Options(shape, SaveModule(shape, kFeatures));
  bad_mode.preprocessing.set_resize_mode("zoom");
  EXPECT_THAT(refused(bad_mode), HasSubstr("preprocessing.resize_mode"));
}

// A user's text encoder and its tokenizer, as a tiny BERT-shaped
// TorchScript export with a vocab.txt or a SentencePiece .model.
struct UserTextEncoder {
  std::string torchscript;
  std::string tokenizer;
};

UserTextEncoder SaveTextEncoder(const std::string& dir, testing::TinyTextModelOptions options) {
  const std::string export_dir = dir + "/export";
  testing::WriteTinyTextModel(export_dir, options);
  const bool sentencepiece = options.tokenizer == "sentencepiece";
  return {export_dir + "/backbone.ts", export_dir + (sentencepiece ? "/spm.model" : "/vocab.txt")};
}

ImportOptions TextOptions(const std::string& dir, const UserTextEncoder& encoder) {
  ImportOptions o;
  o.torchscript = encoder.torchscript;
  o.text.tokenizer = encoder.tokenizer;
  o.text.max_seq_length = 32;
  o.text.pooling = "mean";
  o.name = "user-text";
  o.out_dir = dir + "/models/user-text";
  return o;
}

// Adapts the served model on 4 TinySentences per class and predicts 4
// held-out ones per class; how many come out right, of 12.
int ServedAccuracy(const std::string& repository) {
  engine::EngineOptions eo;
  eo.model_repository = repository;
  eo.device = "cpu";
  auto engine = engine::Engine::Create(eo);
  EXPECT_TRUE(engine.ok()) << engine.status();
  if (!engine.ok()) return -1;
  engine::Engine::AdaptRequest adapt;
  adapt.backbone = "user-text";
  adapt.method = engine::Method::kPrototype;
  std::vector<std::string> support, queries;
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 4; ++i) support.push_back(testing::TinySentence(c, i));
    for (int i = 20; i < 24; ++i) queries.push_back(testing::TinySentence(c, i));
  }
  for (size_t i = 0; i < support.size(); ++i) {
    engine::LabeledInput example;
    example.label = absl::StrCat("class", i / 4);
    example.input.kind = engine::InputRef::Kind::kText;
    example.input.data = support[i];
    adapt.support.push_back(example);
  }
  engine::CallContext ctx;
  auto adapter = (*engine)->Adapt(adapt, ctx);
  EXPECT_TRUE(adapter.ok()) << adapter.status();
  if (!adapter.ok()) return -1;
  engine::Engine::PredictRequest predict;
  predict.adapter_id = (*adapter)->info.adapter_id;
  for (const std::string& text : queries) {
    engine::InputRef query;
    query.kind = engine::InputRef::Kind::kText;
    query.data = text;
    predict.inputs.push_back(query);
  }
  auto result = (*engine)->Predict(predict, ctx);
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return -1;
  int right = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    right += result->predictions[i].label == absl::StrCat("class", i / 4);
  }
  return right;
}

TEST(ImportTest, AUsersWordPieceTextEncoderIsServed) {
  const std::string dir = testing::MakeTempDir("import_wordpiece");
  auto report = ImportTorchScript(TextOptions(dir, SaveTextEncoder(dir, {})));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->feature_dim, 32);
  EXPECT_EQ(report->tokenizer, "wordpiece");
  EXPECT_EQ(report->vocab_size, 33);
  EXPECT_EQ(report->pooling, "mean");
  auto pbtxt = ReadFile(dir + "/models/user-text/model.pbtxt");
  ASSERT_TRUE(pbtxt.ok());
  EXPECT_THAT(*pbtxt, HasSubstr("modality: \"text\""));
  EXPECT_THAT(*pbtxt, HasSubstr("vocab_file: \"vocab.txt\""));
  EXPECT_THAT(*pbtxt, HasSubstr("lower_case: true"));
  EXPECT_THAT(*pbtxt, HasSubstr("max_seq_length: 32"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/models/user-text/vocab.txt"));
  EXPECT_EQ(ServedAccuracy(dir + "/models"), 12);
}

TEST(ImportTest, AUsersSentencePieceTextEncoderIsServed) {
  const std::string dir = testing::MakeTempDir("import_sentencepiece");
  testing::TinyTextModelOptions model;
  model.tokenizer = "sentencepiece";
  model.output_rank = 2;  // The encoder pools itself.
  ImportOptions o = TextOptions(dir, SaveTextEncoder(dir, model));
  o.text.pooling = "cls";  // Ignored: the encoder returns [B,D].
  auto report = ImportTorchScript(o);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->tokenizer, "sentencepiece");
  EXPECT_GT(report->vocab_size, 30);
  EXPECT_EQ(report->pooling, "none");
  auto pbtxt = ReadFile(dir + "/models/user-text/model.pbtxt");
  ASSERT_TRUE(pbtxt.ok());
  EXPECT_THAT(*pbtxt, HasSubstr("tokenizer: \"sentencepiece\""));
  EXPECT_THAT(*pbtxt, HasSubstr("sentencepiece_file: \"spm.model\""));
  EXPECT_THAT(*pbtxt, ::testing::Not(HasSubstr("vocab_file")));
  EXPECT_THAT(*pbtxt, ::testing::Not(HasSubstr("lower_case")));
  EXPECT_EQ(ServedAccuracy(dir + "/models"), 12);
}

TEST(ImportTest, RefusesTextEncodersItCannotServe) {
  const std::string dir = testing::MakeTempDir("import_text_bad");
  const UserTextEncoder encoder = SaveTextEncoder(dir, {});
  auto refused = [&](const ImportOptions& o) {
    auto report = ImportTorchScript(o);
    EXPECT_FALSE(report.ok());
    EXPECT_FALSE(std::filesystem::exists(o.out_dir + "/model.pbtxt"));
    return std::string(report.status().message());
  };
  ImportOptions o = TextOptions(dir, encoder);
  const std::string garbage = dir + "/garbage.txt";
  std::ofstream(garbage) << "\xff\xfe not a vocabulary\n";
  o.text.tokenizer = garbage;
  EXPECT_THAT(refused(o), HasSubstr("is neither a SentencePiece model nor a WordPiece vocab.txt"));
  o.text.tokenizer = dir + "/missing.txt";
  EXPECT_THAT(refused(o), HasSubstr("tokenizer: "));

  o = TextOptions(dir, encoder);
  o.input_shape = {3, 8, 8};
  EXPECT_THAT(refused(o), HasSubstr("input_shape: a text encoder takes token ids"));
  o = TextOptions(dir, encoder);
  o.text.pooling = "max";
  EXPECT_THAT(refused(o), HasSubstr("pooling: must be cls or mean"));
  o = TextOptions(dir, encoder);
  o.text.max_seq_length = 1;
  EXPECT_THAT(refused(o), HasSubstr("max_len: must be in [2, 8192]"));

  // An encoder that takes token_type_ids, imported without saying so.
  testing::TinyTextModelOptions typed;
  typed.encoder_token_types = true;
  const std::string typed_dir = testing::MakeTempDir("import_text_typed");
  ImportOptions untyped = TextOptions(typed_dir, SaveTextEncoder(typed_dir, typed));
  EXPECT_THAT(refused(untyped),
              AllOf(HasSubstr("the encoder fails on input_ids and attention_mask [2,8]"),
                    HasSubstr("--token_type_ids")));
  untyped.text.token_type_ids = true;
  EXPECT_TRUE(ImportTorchScript(untyped).ok());

  // An encoder whose output is neither [B,D] nor [B,T,D].
  testing::TinyTextModelOptions scalar;
  scalar.output_rank = 1;
  const std::string scalar_dir = testing::MakeTempDir("import_text_rank1");
  EXPECT_THAT(refused(TextOptions(scalar_dir, SaveTextEncoder(scalar_dir, scalar))),
              HasSubstr("the encoder returns [2] Float"));
}

}  // namespace
}  // namespace adaptd::train
