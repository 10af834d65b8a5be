// The native text encoder (format "text-transformer"): what its forward
// promises (padding and padded ids never change a text's features), its
// option checks, and a folder written by ExportTextModel that Backbone::Load
// serves with the features of the network it was written from.
#include "server/engine/model/text_nets.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "server/common/file_util.h"
#include "server/engine/adapt/adaptation.h"
#include "server/engine/model/backbone.h"
#include "server/engine/text/load_tokenizer.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::engine {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TextTransformerOptions SmallOptions() {
  TextTransformerOptions o;
  o.vocab_size = 40;
  o.dim = 16;
  o.layers = 2;
  o.heads = 2;
  o.max_length = 12;
  o.pooling = "mean";
  return o;
}

std::shared_ptr<TextTransformer> SmallNet(const TextTransformerOptions& options) {
  torch::manual_seed(7);
  auto net = MakeTextTransformer(options);
  EXPECT_TRUE(net.ok()) << net.status();
  (*net)->eval();
  return *net;
}

TEST(TextTransformerTest, PaddingAndPaddedIdsDoNotChangeATextsFeatures) {
  auto net = SmallNet(SmallOptions());
  torch::NoGradGuard no_grad;
  const torch::Tensor alone = net->forward(torch::tensor({{2, 11, 12, 13, 3}}, torch::kLong),
                                           torch::ones({1, 5}, torch::kLong));
  ASSERT_EQ(alone.sizes(), (std::vector<int64_t>{1, 16}));
  // The same text padded to 9 tokens, with arbitrary ids under the padding,
  // beside a longer one.
  const torch::Tensor ids = torch::tensor(
      {{2, 11, 12, 13, 3, 30, 31, 5, 0}, {2, 20, 21, 22, 23, 24, 25, 26, 3}}, torch::kLong);
  const torch::Tensor mask =
      torch::tensor({{1, 1, 1, 1, 1, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1, 1, 1, 1}}, torch::kLong);
  const torch::Tensor padded = net->forward(ids, mask);
  EXPECT_TRUE(torch::allclose(padded[0], alone[0], 1e-5, 1e-6))
      << (padded[0] - alone[0]).abs().max().item<float>();
  // A real token does count.
  const torch::Tensor other = net->forward(torch::tensor({{2, 11, 14, 13, 3}}, torch::kLong),
                                           torch::ones({1, 5}, torch::kLong));
  EXPECT_GT((other - alone).abs().max().item<float>(), 1e-3);
}

TEST(TextTransformerTest, ClsPoolingIsTheFirstTokensFeatures) {
  TextTransformerOptions options = SmallOptions();
  options.pooling = "cls";
  auto net = SmallNet(options);
  torch::NoGradGuard no_grad;
  const torch::Tensor ids = torch::tensor({{2, 5, 6, 3}}, torch::kLong);
  const torch::Tensor mask = torch::ones({1, 4}, torch::kLong);
  EXPECT_TRUE(torch::equal(net->forward(ids, mask), net->Tokens(ids, mask).select(1, 0)));
}

TEST(TextTransformerTest, TooLongAnInputIsAnError) {
  auto net = SmallNet(SmallOptions());
  torch::NoGradGuard no_grad;
  try {
    net->forward(torch::zeros({1, 13}, torch::kLong), torch::ones({1, 13}, torch::kLong));
    ADD_FAILURE() << "13 tokens through a 12-position encoder";
  } catch (const c10::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("this encoder takes 1 to 12 per text"));
  }
}

TEST(TextTransformerTest, BadOptionsNameTheirField) {
  TextTransformerOptions o = SmallOptions();
  o.dim = 15;
  EXPECT_THAT(std::string(ValidateTextTransformerOptions(o, "text.transformer.").message()),
              HasSubstr("text.transformer.dim: must be a multiple of heads (2), got 15"));
  o = SmallOptions();
  o.pooling = "max";
  EXPECT_THAT(std::string(MakeTextTransformer(o).status().message()), HasSubstr("pooling"));
  o = SmallOptions();
  o.vocab_size = 0;
  EXPECT_THAT(std::string(ValidateTextTransformerOptions(o).message()),
              HasSubstr("vocab_size: must be in [1,"));
  o = SmallOptions();
  o.layers = 0;
  EXPECT_EQ(ValidateTextTransformerOptions(o).code(), absl::StatusCode::kInvalidArgument);
}

TEST(TokenIdfTest, SmoothedIdfWithZeroForTokensInEveryText) {
  // [CLS]=2 and [SEP]=3 in every text; 0 pads the last two.
  const torch::Tensor ids = torch::tensor({{2, 5, 6, 3}, {2, 5, 7, 3}, {2, 8, 3, 0}}, torch::kLong);
  const torch::Tensor mask = torch::tensor({{1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 0}});
  const torch::Tensor idf = TokenIdf(ids, mask, 10);
  ASSERT_EQ(idf.sizes(), (std::vector<int64_t>{10}));
  const auto at = [&](int i) { return idf[i].item<double>(); };
  EXPECT_EQ(at(2), 0);
  EXPECT_EQ(at(3), 0);
  EXPECT_NEAR(at(5), std::log(4.0 / 3) + 1, 1e-6);  // In 2 of 3 texts.
  EXPECT_NEAR(at(6), std::log(4.0 / 2) + 1, 1e-6);  // In 1.
  EXPECT_NEAR(at(8), std::log(4.0 / 2) + 1, 1e-6);
  EXPECT_NEAR(at(0), std::log(4.0) + 1, 1e-6);      // Padding is not counted.
  EXPECT_NEAR(at(9), std::log(4.0) + 1, 1e-6);      // Never seen.
}

TextTransformerOptions LexicalOptions() {
  TextTransformerOptions o = SmallOptions();
  o.lexical_dim = 4096;
  o.lexical_weight = 0.7;
  return o;
}

// Cosines between the rows of `x`.
torch::Tensor Cosines(const torch::Tensor& x) {
  const torch::Tensor unit = NormalizeFeatures(x);
  return unit.matmul(unit.t());
}

TEST(TextTransformerTest, LexicalBranchIsAnIdfWeightedBagOfTokens) {
  auto net = SmallNet(LexicalOptions());
  torch::Tensor idf = torch::rand({40}) + 0.5;
  idf[2] = 0;
  net->SetTokenIdf(idf);
  torch::NoGradGuard no_grad;
  // Texts 0 and 1 hold the same tokens in another order (7 is padding in 1).
  const torch::Tensor ids = torch::tensor({{2, 11, 12, 13, 12, 0},
                                           {2, 13, 12, 11, 12, 7},
                                           {2, 11, 20, 21, 22, 0},
                                           {2, 30, 31, 0, 0, 0}},
                                          torch::kLong);
  const torch::Tensor mask = torch::tensor(
      {{1, 1, 1, 1, 1, 0}, {1, 1, 1, 1, 1, 0}, {1, 1, 1, 1, 1, 0}, {1, 1, 1, 0, 0, 0}});
  // The exact bag: counts times idf, over the vocabulary.
  const torch::Tensor counts = torch::zeros({4, 40}).scatter_add_(1, ids, mask.to(torch::kFloat));
  const torch::Tensor exact = counts * idf;
  const torch::Tensor lexical = net->Lexical(ids, mask);
  ASSERT_EQ(lexical.sizes(), (std::vector<int64_t>{4, 4096}));
  // Order does not matter, padding does not count, and hashing into 4096
  // buckets keeps these texts' cosines.
  EXPECT_TRUE(torch::allclose(lexical[0], lexical[1]));
  EXPECT_TRUE(torch::allclose(Cosines(lexical), Cosines(exact), 1e-5, 1e-5))
      << Cosines(lexical) << Cosines(exact);
  EXPECT_GT(Cosines(lexical)[0][2].item<float>(), 0.05);
  EXPECT_NEAR(Cosines(lexical)[0][3].item<float>(), 0, 1e-6);

  // The features: both parts normalised, and the cosine between two texts
  // lexical_weight times the lexical one plus the rest times the
  // transformer's.
  const torch::Tensor features = net->forward(ids, mask);
  ASSERT_EQ(features.sizes(), (std::vector<int64_t>{4, 16 + 4096}));
  EXPECT_EQ(net->feature_dim(), 16 + 4096);
  EXPECT_TRUE(torch::allclose(features.norm(2, 1), torch::ones({4}), 1e-5, 1e-6));
  const torch::Tensor expected =
      0.7 * Cosines(exact) + 0.3 * Cosines(net->Encode(ids, mask));
  EXPECT_TRUE(torch::allclose(features.matmul(features.t()), expected, 1e-5, 1e-5));
}

TEST(TextTransformerTest, LexicalOptionsAreChecked) {
  TextTransformerOptions o = LexicalOptions();
  o.lexical_weight = 1.5;
  EXPECT_THAT(std::string(ValidateTextTransformerOptions(o, "text.transformer.").message()),
              HasSubstr("text.transformer.lexical_weight: must be in [0,1], got 1.5"));
  o = LexicalOptions();
  o.lexical_dim = -1;
  EXPECT_THAT(std::string(ValidateTextTransformerOptions(o).message()),
              HasSubstr("lexical_dim: must be in [0,"));
}

// The semantic branch: the idf-weighted sum of fixed token vectors, joined
// to the lexical branch and the transformer with the shares the options
// give, so that texts with no token in common can still be near.
TEST(TextTransformerTest, SemanticBranchIsAnIdfWeightedSumOfTokenVectors) {
  TextTransformerOptions o = LexicalOptions();
  o.lexical_weight = 0.4;
  o.semantic_dim = 8;
  o.semantic_weight = 0.5;
  auto net = SmallNet(o);
  torch::NoGradGuard no_grad;
  // Texts 0 and 1 share no token, but tokens 21 and 22 have the vectors and
  // weights of 11 and 12.
  torch::Tensor idf = torch::rand({40}) + 0.5;
  torch::Tensor vectors = NormalizeFeatures(torch::randn({40, 8}));
  for (const auto& [a, b] : {std::pair<int, int>{21, 11}, {22, 12}}) {
    idf[a] = idf[b];
    vectors[a] = vectors[b];
  }
  net->SetTokenIdf(idf);
  net->SetTokenVectors(vectors);
  const torch::Tensor ids =
      torch::tensor({{11, 12, 12, 0}, {21, 22, 22, 0}, {30, 31, 0, 0}}, torch::kLong);
  const torch::Tensor mask = torch::tensor({{1, 1, 1, 0}, {1, 1, 1, 0}, {1, 1, 0, 0}});
  const torch::Tensor semantic = net->Semantic(ids, mask);
  ASSERT_EQ(semantic.sizes(), (std::vector<int64_t>{3, 8}));
  const torch::Tensor expected_0 = idf[11] * vectors[11] + 2 * idf[12] * vectors[12];
  EXPECT_TRUE(torch::allclose(semantic[0], expected_0, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(semantic[1], semantic[0], 1e-5, 1e-5));
  EXPECT_NEAR(Cosines(net->Lexical(ids, mask))[0][1].item<float>(), 0, 1e-6);

  const torch::Tensor features = net->forward(ids, mask);
  EXPECT_EQ(net->feature_dim(), 16 + 4096 + 8);
  ASSERT_EQ(features.sizes(), (std::vector<int64_t>{3, 16 + 4096 + 8}));
  EXPECT_TRUE(torch::allclose(features.norm(2, 1), torch::ones({3}), 1e-5, 1e-6));
  const torch::Tensor expected = 0.4 * Cosines(net->Lexical(ids, mask)) +
                                 0.5 * Cosines(semantic) +
                                 0.1 * Cosines(net->Encode(ids, mask));
  EXPECT_TRUE(torch::allclose(features.matmul(features.t()), expected, 1e-5, 1e-5));
  // No token in common, yet half the cosine is there.
  EXPECT_GT(features.matmul(features.t())[0][1].item<float>(), 0.45);
}

TEST(TextTransformerTest, SemanticOptionsAreChecked) {
  TextTransformerOptions o = LexicalOptions();
  o.semantic_dim = 8;
  o.semantic_weight = 0.7;  // With lexical_weight 0.7.
  EXPECT_THAT(std::string(ValidateTextTransformerOptions(o, "text.transformer.").message()),
              HasSubstr("text.transformer.semantic_weight: lexical_weight + semantic_weight "
                        "must be at most 1, got 0.7 + 0.7"));
  o.semantic_weight = 0.3;
  EXPECT_TRUE(ValidateTextTransformerOptions(o).ok());
  o.semantic_weight = -0.1;
  EXPECT_THAT(std::string(ValidateTextTransformerOptions(o).message()),
              HasSubstr("semantic_weight: must be in [0,1], got -0.1"));
  o.semantic_dim = -2;
  EXPECT_THAT(std::string(ValidateTextTransformerOptions(o).message()),
              HasSubstr("semantic_dim: must be in [0,"));
  // model.pbtxt carries the branch, and back.
  o = LexicalOptions();
  o.semantic_dim = 8;
  o.semantic_weight = 0.25;
  adaptd::v1::ModelConfig config;
  TextTransformerOptionsToConfig(o, &config);
  EXPECT_EQ(config.feature_dim(), 16 + 4096 + 8);
  const TextTransformerOptions back = TextTransformerOptionsFromConfig(config);
  EXPECT_EQ(back.semantic_dim, 8);
  EXPECT_DOUBLE_EQ(back.semantic_weight, 0.25);
}

// With semantic_agreement, a text's semantic share is semantic_weight *
// min(1, a / semantic_agreement), a the length of the idf-weighted mean of its
// token vectors, and the lexical branch takes what it gives up.
TEST(TextTransformerTest, SemanticShareFollowsHowWellATextsVectorsAgree) {
  TextTransformerOptions o = LexicalOptions();
  o.lexical_weight = 0.4;
  o.semantic_dim = 8;
  o.semantic_weight = 0.5;
  o.semantic_agreement = 0.6;
  auto net = SmallNet(o);
  torch::NoGradGuard no_grad;
  // Tokens 10-13 point along four axes; 20-23 all along the first.
  torch::Tensor vectors = torch::zeros({40, 8});
  for (int i = 0; i < 4; ++i) {
    vectors[10 + i][i] = 1;
    vectors[20 + i][0] = 1;
  }
  net->SetTokenVectors(vectors);
  net->SetTokenIdf(torch::ones({40}));
  // Text 0 agrees fully (a = 1), text 1 not at all (a = 1/2), text 2 is
  // half of each (a = sqrt(10)/4 = 0.79, over 0.6).
  const torch::Tensor ids =
      torch::tensor({{20, 21, 22, 23}, {10, 11, 12, 13}, {10, 11, 20, 21}}, torch::kLong);
  const torch::Tensor mask = torch::ones({3, 4}, torch::kLong);
  const torch::Tensor features = net->forward(ids, mask);
  ASSERT_EQ(features.sizes(), (std::vector<int64_t>{3, 4096 + 8 + 16}));
  const auto share = [&](int64_t row, int64_t from, int64_t width) {
    return features[row].narrow(0, from, width).pow(2).sum().item<double>();
  };
  const double sem_1 = 0.5 * 0.5 / 0.6;
  const double expected_semantic[3] = {0.5, sem_1, 0.5};
  for (int64_t row = 0; row < 3; ++row) {
    SCOPED_TRACE(row);
    EXPECT_NEAR(share(row, 0, 4096), 0.9 - expected_semantic[row], 1e-5);
    EXPECT_NEAR(share(row, 4096, 8), expected_semantic[row], 1e-5);
    EXPECT_NEAR(share(row, 4096 + 8, 16), 0.1, 1e-5);
  }
  // Within each part the directions are the branches' own.
  const torch::Tensor semantic = NormalizeFeatures(net->Semantic(ids, mask));
  EXPECT_TRUE(torch::allclose(features.narrow(1, 4096, 8)[1], std::sqrt(sem_1) * semantic[1],
                              1e-5, 1e-6));

  // Without it every text gets semantic_weight.
  o.semantic_agreement = 0;
  auto fixed = SmallNet(o);
  fixed->SetTokenVectors(vectors);
  fixed->SetTokenIdf(torch::ones({40}));
  EXPECT_NEAR(fixed->forward(ids, mask)[1].narrow(0, 4096, 8).pow(2).sum().item<double>(), 0.5,
              1e-5);
}

// The bags read every token, the transformer the first `positions`.
TEST(TextTransformerTest, TransformerEncodesTheFirstPositionsTokens) {
  TextTransformerOptions o = LexicalOptions();
  o.positions = 4;
  auto net = SmallNet(o);
  torch::NoGradGuard no_grad;
  // The same first four tokens, then other ones.
  const torch::Tensor ids =
      torch::tensor({{2, 11, 12, 13, 14, 15, 16, 0}, {2, 11, 12, 13, 30, 31, 32, 33}},
                    torch::kLong);
  const torch::Tensor mask =
      torch::tensor({{1, 1, 1, 1, 1, 1, 1, 0}, {1, 1, 1, 1, 1, 1, 1, 1}}, torch::kLong);
  const torch::Tensor encoded = net->Encode(ids, mask);
  EXPECT_TRUE(torch::allclose(encoded[0], encoded[1], 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(encoded, net->Encode(ids.narrow(1, 0, 4), mask.narrow(1, 0, 4))));
  const torch::Tensor features = net->forward(ids, mask);
  EXPECT_TRUE(torch::allclose(features[0].narrow(0, 4096, 16), features[1].narrow(0, 4096, 16),
                              1e-5, 1e-6));
  EXPECT_GT((features[0] - features[1]).abs().max().item<float>(), 1e-2);
  EXPECT_EQ(net->named_parameters()["positions.weight"].size(0), 4);
}

TEST(TextTransformerTest, PositionsAndAgreementAreCheckedAndCarried) {
  TextTransformerOptions o = LexicalOptions();
  o.positions = 13;
  EXPECT_THAT(std::string(ValidateTextTransformerOptions(o, "text.transformer.").message()),
              HasSubstr("text.transformer.positions: must be in [0, 12], got 13"));
  o.positions = 4;
  o.semantic_agreement = 0.5;  // No semantic branch.
  EXPECT_THAT(std::string(ValidateTextTransformerOptions(o).message()),
              HasSubstr("semantic_agreement: needs a lexical and a semantic branch"));
  o.semantic_dim = 8;
  o.semantic_weight = 0.2;
  EXPECT_TRUE(ValidateTextTransformerOptions(o).ok());
  o.semantic_agreement = 1.5;
  EXPECT_THAT(std::string(ValidateTextTransformerOptions(o).message()),
              HasSubstr("semantic_agreement: must be in [0,1], got 1.5"));
  o.semantic_agreement = 0.5;
  adaptd::v1::ModelConfig config;
  TextTransformerOptionsToConfig(o, &config);
  EXPECT_EQ(config.text().max_seq_length(), 12);
  const TextTransformerOptions back = TextTransformerOptionsFromConfig(config);
  EXPECT_EQ(back.positions, 4);
  EXPECT_DOUBLE_EQ(back.semantic_agreement, 0.5);
}

// A WordPiece vocab of the special tokens and a few words.
std::string WriteVocab(const std::string& dir) {
  const std::string path = dir + "/vocab.txt";
  std::ofstream out(path);
  for (const char* token : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat",
                            "on", "mat", "dog", "ran", "far", ".", "##s"}) {
    out << token << "\n";
  }
  return path;
}

// `folder`'s model.pbtxt with `edit` applied, loaded.
absl::Status LoadEditedFolder(const std::string& folder,
                              const std::function<void(v1::ModelConfig&)>& edit) {
  const std::string path = folder + "/model.pbtxt";
  v1::ModelConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(*ReadFile(path), &config));
  edit(config);
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  EXPECT_TRUE(WriteFileAtomically(path, text).ok());
  return Backbone::Load(folder, c10::Device(c10::kCPU)).status();
}

// Exports `net` (a 15-token WordPiece model) to `folder`, checks that
// model.pbtxt says `line` and that the loaded backbone, feature_dim wide,
// serves the net's normalised features.
void ExpectExportedServesNet(TextTransformer& net, const std::string& vocab,
                             const std::string& folder, const std::string& line,
                             int64_t feature_dim) {
  v1::ModelConfig config;
  config.set_name("words");
  config.mutable_text()->set_tokenizer(kWordPiece);
  config.mutable_text()->set_lower_case(true);
  ASSERT_TRUE(ExportTextModel(folder, config, net, nullptr, vocab).ok());
  EXPECT_THAT(*ReadFile(folder + "/model.pbtxt"), HasSubstr(line));
  auto loaded = Backbone::Load(folder, c10::Device(c10::kCPU));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->info().feature_dim, feature_dim);
  const torch::Tensor ids = torch::tensor({{2, 6, 7, 3}, {2, 10, 11, 3}}, torch::kLong);
  const torch::Tensor mask = torch::ones({2, 4}, torch::kLong);
  auto served = (*loaded)->Features(BackboneInput{ids, mask});
  ASSERT_TRUE(served.ok()) << served.status();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(*served, NormalizeFeatures(net.forward(ids, mask)), 1e-5, 1e-6));
}

class NativeTextBackboneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("text_transformer_test");
    vocab_ = WriteVocab(dir_);
    options_ = SmallOptions();
    options_.vocab_size = 15;
    net_ = SmallNet(options_);
    config_.set_name("words");
    config_.mutable_text()->set_tokenizer(kWordPiece);
    config_.mutable_text()->set_lower_case(true);
    folder_ = dir_ + "/model";
    ASSERT_TRUE(ExportTextModel(folder_, config_, *net_, nullptr, vocab_).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  absl::Status LoadEdited(const std::function<void(v1::ModelConfig&)>& edit) {
    return LoadEditedFolder(folder_, edit);
  }

  std::string dir_, vocab_, folder_;
  TextTransformerOptions options_;
  std::shared_ptr<TextTransformer> net_;
  v1::ModelConfig config_;
};

TEST_F(NativeTextBackboneTest, ExportedFolderServesTheNetworksFeatures) {
  EXPECT_TRUE(fs::exists(folder_ + "/vocab.txt"));
  auto loaded = Backbone::Load(folder_, c10::Device(c10::kCPU));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Backbone& backbone = **loaded;
  EXPECT_EQ(backbone.config().format(), "text-transformer");
  EXPECT_EQ(backbone.info().modality, "text");
  EXPECT_EQ(backbone.info().feature_dim, 16);
  EXPECT_EQ(backbone.info().text.tokenizer, "wordpiece");
  EXPECT_EQ(backbone.info().text.max_seq_length, 12);
  EXPECT_EQ(backbone.info().text.pooling, "mean");
  ASSERT_TRUE(backbone.is_text());

  // Texts tokenized as adaptd tokenizes them, one padded.
  const Tokenizer& tokenizer = *backbone.tokenizer();
  auto a = tokenizer.Encode("The cat sat on the mat.", 12);
  auto b = tokenizer.Encode("Dogs ran.", 12);
  ASSERT_TRUE(a.ok() && b.ok());
  const int64_t t = static_cast<int64_t>(a->ids.size());
  torch::Tensor ids = torch::full({2, t}, tokenizer.pad_id(), torch::kLong);
  torch::Tensor mask = torch::zeros({2, t}, torch::kLong);
  for (int64_t j = 0; j < t; ++j) ids[0][j] = a->ids[j], mask[0][j] = 1;
  for (size_t j = 0; j < b->ids.size(); ++j) ids[1][j] = b->ids[j], mask[1][j] = 1;
  auto served = backbone.Features(BackboneInput{ids, mask});
  ASSERT_TRUE(served.ok()) << served.status();

  torch::NoGradGuard no_grad;
  const torch::Tensor expected = NormalizeFeatures(net_->forward(ids, mask));
  EXPECT_TRUE(torch::allclose(*served, expected, 1e-5, 1e-6));
  EXPECT_GT((*served)[0].sub((*served)[1]).abs().max().item<float>(), 1e-3);
}

TEST_F(NativeTextBackboneTest, ConfigErrorsNameTheField) {
  absl::Status s = LoadEdited([](v1::ModelConfig& c) {
    c.mutable_text()->mutable_transformer()->set_vocab_size(10);
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("text.transformer.vocab_size: 10 is smaller than the wordpiece vocabulary "
                        "(15 tokens)"));

  s = LoadEdited([](v1::ModelConfig& c) {
    c.mutable_text()->mutable_transformer()->set_vocab_size(15);
    c.set_feature_dim(32);
  });
  EXPECT_THAT(std::string(s.message()), HasSubstr("feature_dim: must equal text.transformer.dim"));

  // A shape the weights were not saved with.
  s = LoadEdited([](v1::ModelConfig& c) {
    c.set_feature_dim(32);
    c.mutable_text()->mutable_transformer()->set_dim(32);
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("backbone_file:"));

  s = LoadEdited([](v1::ModelConfig& c) {
    c.set_feature_dim(16);
    c.mutable_text()->mutable_transformer()->set_dim(16);
    c.mutable_text()->mutable_transformer()->set_heads(3);
  });
  EXPECT_THAT(std::string(s.message()), HasSubstr("text.transformer.dim: must be a multiple"));

  s = LoadEdited([](v1::ModelConfig& c) {
    c.mutable_text()->mutable_transformer()->set_heads(2);
    c.set_format("text-lstm");
  });
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"text-transformer\", got \"text-lstm\""));

  // And the folder as exported loads again.
  s = LoadEdited([](v1::ModelConfig& c) { c.set_format("text-transformer"); });
  EXPECT_TRUE(s.ok()) << s;
}

TEST(NativeTextBackboneLexicalTest, ExportedFolderServesBothBranchesWithTheFittedIdf) {
  const std::string dir = testing::MakeTempDir("text_transformer_lexical_test");
  const std::string vocab = WriteVocab(dir);
  TextTransformerOptions options = LexicalOptions();
  options.vocab_size = 15;
  options.lexical_dim = 64;
  auto net = SmallNet(options);
  net->SetTokenIdf(torch::linspace(0, 3, 15));
  ExpectExportedServesNet(*net, vocab, dir + "/model", "lexical_dim: 64", 16 + 64);
  if (HasFatalFailure()) return;

  // The same weights without the branch's idf do not load as a model with it.
  options.lexical_dim = 0;
  auto plain = SmallNet(options);
  const std::string plain_folder = dir + "/plain";
  ExpectExportedServesNet(*plain, vocab, plain_folder, "dim: 16", 16);
  if (HasFatalFailure()) return;
  const absl::Status s = LoadEditedFolder(plain_folder, [](v1::ModelConfig& c) {
    c.mutable_text()->mutable_transformer()->set_lexical_dim(64);
    c.set_feature_dim(16 + 64);
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("backbone_file:"));
  fs::remove_all(dir);
}

// The semantic branch's vectors travel in backbone.pt: the exported folder
// serves what the net computes, and a model.pbtxt that claims other
// vectors than the weights hold is refused.
TEST(NativeTextBackboneLexicalTest, ExportedFolderServesTheSemanticBranch) {
  const std::string dir = testing::MakeTempDir("text_transformer_semantic_test");
  const std::string vocab = WriteVocab(dir);
  TextTransformerOptions options = LexicalOptions();
  options.vocab_size = 15;
  options.lexical_dim = 64;
  options.lexical_weight = 0.3;
  options.semantic_dim = 4;
  options.semantic_weight = 0.6;
  auto net = SmallNet(options);
  net->SetTokenIdf(torch::linspace(0, 3, 15));
  net->SetTokenVectors(NormalizeFeatures(torch::randn({15, 4})));
  const std::string folder = dir + "/model";
  ExpectExportedServesNet(*net, vocab, folder, "semantic_dim: 4", 16 + 64 + 4);
  if (HasFatalFailure()) return;

  // So do per-text shares and a transformer reading fewer tokens.
  options.positions = 3;
  options.semantic_agreement = 0.9;
  auto shares = SmallNet(options);
  shares->SetTokenIdf(torch::linspace(0, 3, 15));
  shares->SetTokenVectors(NormalizeFeatures(torch::randn({15, 4})));
  ExpectExportedServesNet(*shares, vocab, dir + "/shares", "semantic_agreement: 0.9",
                          16 + 64 + 4);
  if (HasFatalFailure()) return;
  EXPECT_THAT(*ReadFile(dir + "/shares/model.pbtxt"), HasSubstr("positions: 3"));

  // The weights' 4-wide vectors replace the claimed 8; the probe of the
  // features catches it.
  const absl::Status s = LoadEditedFolder(folder, [](v1::ModelConfig& c) {
    c.mutable_text()->mutable_transformer()->set_semantic_dim(8);
    c.set_feature_dim(16 + 64 + 8);
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("feature_dim: model.pbtxt says 88"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace adaptd::engine
