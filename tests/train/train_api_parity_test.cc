// What adapt-train evaluates is what adaptd serves: PROTOTYPE adapters made
// through the gRPC API from an episode's support images answer its queries
// as eval's PROTOTYPE rows do, label for label, with the same probabilities.
// The model is a tiny RGB TorchScript net imported as a user's would be.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tests/test_util/test_server.h"
#include "tests/test_util/tiny_models.h"
#include "tests/train/test_data.h"
#include "train/dataset.h"
#include "train/episodes.h"
#include "train/evaluate.h"
#include "train/import.h"
#include "train/random.h"

namespace adaptd::train {
namespace {

using adaptd::testing::TestServer;
using adaptd::testing::TestServerOptions;

constexpr int kSide = 16;
constexpr int kEpisodes = 6;
constexpr char kBackbone[] = "rgb-net";

// `classes` classes of `per_class` 3x16x16 images: a flat colour per class,
// drawn near the others', with per-image brightness and per-pixel noise, so
// that few-shot heads on a random net confuse some of them.
Dataset NoisyColours(int classes, int per_class) {
  Dataset data;
  data.shape = {3, kSide, kSide};
  const int32_t group = data.AddGroup("colours");
  for (int c = 0; c < classes; ++c) {
    const int32_t label = data.AddClass(absl::StrCat("colour", c), group);
    Rng shade(MixSeed(11, {static_cast<uint64_t>(c)}));
    double base[3];
    for (double& b : base) b = shade.Uniform(90, 170);
    for (int i = 0; i < per_class; ++i) {
      Rng rng(MixSeed(11, {static_cast<uint64_t>(c), static_cast<uint64_t>(i) + 1}));
      const double brightness = rng.Uniform(-25, 25);
      std::vector<uint8_t> image(data.shape.bytes());
      for (size_t j = 0; j < image.size(); ++j) {
        const double v = base[j / (kSide * kSide)] + brightness + rng.Uniform(-60, 60);
        image[j] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      }
      data.AddImage(label, image.data());
    }
  }
  return data;
}

// A small random RGB convolutional net saved by LibTorch and imported into
// `dir`/models; returns its model folder.
absl::StatusOr<std::string> ImportTinyBackbone(const std::string& dir) {
  adaptd::testing::SaveTinyRgbTorchScript(dir + "/net.pt");
  ImportOptions o;
  o.torchscript = dir + "/net.pt";
  o.input_shape = {3, kSide, kSide};
  for (int c = 0; c < 3; ++c) o.preprocessing.add_mean(0.5f);
  for (int c = 0; c < 3; ++c) o.preprocessing.add_std(0.25f);
  o.name = kBackbone;
  o.out_dir = absl::StrCat(dir, "/models/", kBackbone);
  auto report = ImportTorchScript(o);
  if (!report.ok()) return report.status();
  return o.out_dir;
}

// Image `i` of `data` as a UINT8 tensor input, the bytes eval embeds.
v1::Input TensorOf(const Dataset& data, int64_t i) {
  v1::Input input;
  auto* tensor = input.mutable_tensor();
  for (int64_t d : data.shape.dims()) tensor->add_shape(d);
  tensor->set_dtype(v1::UINT8);
  tensor->set_data(std::string(reinterpret_cast<const char*>(data.image(i)), data.shape.bytes()));
  return input;
}

// The name adaptd's adapter gives episode label `y`: its class's name.
const std::string& LabelName(const Dataset& data, const Episode& episode, int32_t y) {
  return data.class_names[episode.classes[y]];
}

v1::AdaptRequest SupportRequest(const Dataset& data, const Episode& episode) {
  v1::AdaptRequest request;
  request.set_backbone(kBackbone);
  request.set_method(v1::PROTOTYPE);
  for (size_t i = 0; i < episode.support.size(); ++i) {
    v1::Example* example = request.add_support();
    example->set_label(LabelName(data, episode, episode.support_labels[i]));
    *example->mutable_input() = TensorOf(data, episode.support[i]);
  }
  return request;
}

// Every query of the episode, every class's probability.
v1::PredictRequest QueryRequest(const Dataset& data, const Episode& episode,
                                const std::string& adapter_id) {
  v1::PredictRequest request;
  request.set_adapter_id(adapter_id);
  request.set_top_k(0);
  for (int64_t i : episode.query) *request.add_inputs() = TensorOf(data, i);
  return request;
}

// Checks adaptd's answers to one episode's queries against eval's; counts
// eval's right and wrong answers.
void ExpectSameAnswers(const Dataset& data, const EpisodePrediction& expected,
                       const v1::PredictResponse& served, int* right, int* wrong) {
  const Episode& e = expected.episode;
  ASSERT_EQ(served.predictions_size(), static_cast<int>(e.query.size()));
  std::map<std::string, int32_t> label_of;
  for (int32_t y = 0; y < static_cast<int32_t>(e.classes.size()); ++y) {
    label_of[LabelName(data, e, y)] = y;
  }
  for (size_t q = 0; q < e.query.size(); ++q) {
    SCOPED_TRACE(absl::StrCat("query ", q, " (image ", e.query[q], ")"));
    const v1::Prediction& p = served.predictions(static_cast<int>(q));
    EXPECT_EQ(p.label(), LabelName(data, e, expected.predicted[q]));
    ASSERT_EQ(p.scores_size(), static_cast<int>(e.classes.size()));
    for (const v1::ClassScore& score : p.scores()) {
      ASSERT_EQ(label_of.count(score.label()), 1u) << score.label();
      EXPECT_NEAR(score.probability(), expected.probabilities[q][label_of[score.label()]], 1e-4)
          << score.label();
    }
    EXPECT_NEAR(p.probability(), expected.probabilities[q][expected.predicted[q]], 1e-4);
    ++*(expected.predicted[q] == e.query_labels[q] ? right : wrong);
  }
}

TEST(TrainApiParityTest, AdaptdPrototypeAnswersAsEvalDoes) {
  testing::TempDir dir;
  const Dataset data = NoisyColours(8, 10);
  ASSERT_TRUE(data.Validate().ok());
  const absl::StatusOr<std::string> model = ImportTinyBackbone(dir.path());
  ASSERT_TRUE(model.ok()) << model.status();
  EpisodeOptions eo;
  eo.ways = 5;
  eo.shots = 2;
  eo.queries = 4;
  eo.seed = 3;
  const auto expected = PrototypePredictions(*model, data, eo, kEpisodes);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_EQ(expected->size(), static_cast<size_t>(kEpisodes));

  TestServerOptions options;
  options.model_repository = dir / "models";
  TestServer server(options);
  int right = 0, wrong = 0;
  for (size_t k = 0; k < expected->size(); ++k) {
    SCOPED_TRACE(absl::StrCat("episode ", k));
    const EpisodePrediction& e = (*expected)[k];
    v1::AdaptResponse adapted;
    grpc::ClientContext adapt_ctx;
    const grpc::Status adapt =
        server.stub().Adapt(&adapt_ctx, SupportRequest(data, e.episode), &adapted);
    ASSERT_TRUE(adapt.ok()) << adapt.error_message();
    EXPECT_EQ(adapted.adapter().method(), v1::PROTOTYPE);
    v1::PredictResponse served;
    grpc::ClientContext predict_ctx;
    const grpc::Status predict = server.stub().Predict(
        &predict_ctx, QueryRequest(data, e.episode, adapted.adapter().adapter_id()), &served);
    ASSERT_TRUE(predict.ok()) << predict.error_message();
    ExpectSameAnswers(data, e, served, &right, &wrong);
  }
  // Agreement means something only if eval gets some answers wrong.
  EXPECT_GT(right, 0);
  EXPECT_GT(wrong, 0);
  std::printf("eval PROTOTYPE: %d of %d queries right\n", right, right + wrong);
}

}  // namespace
}  // namespace adaptd::train
