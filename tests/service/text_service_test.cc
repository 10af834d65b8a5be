// Text inputs through adaptd's gRPC API: an in-process server on port 0 over
// a repository of a tiny image backbone and a tiny text encoder.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/test_server.h"
#include "tests/test_util/text_models.h"
#include "tests/test_util/tiny_models.h"

namespace adaptd::testing {
namespace {

using ::testing::HasSubstr;

constexpr int kMaxSeqLength = 16;

const std::string& TextRepository() {
  static const std::string* repo = [] {
    auto* dir = new std::string(MakeTempDir("adaptd_text_repo"));
    WriteTinyConv4Model(*dir + "/tiny", "tiny", /*with_meta=*/false);
    TinyTextModelOptions options;
    options.max_seq_length = kMaxSeqLength;
    WriteTinyTextModel(*dir + "/words", options);
    return dir;
  }();
  return *repo;
}

v1::Input TextInput(const std::string& text) {
  v1::Input input;
  input.set_text(text);
  return input;
}

// Three classes of `shots` sentences each, labelled "class<k>".
v1::AdaptRequest TextAdaptRequest(int shots, v1::Method method) {
  v1::AdaptRequest request;
  request.set_backbone("words");
  request.set_method(method);
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < shots; ++i) {
      auto* example = request.add_support();
      example->set_label(absl::StrCat("class", c));
      *example->mutable_input() = TextInput(TinySentence(c, i));
    }
  }
  return request;
}

class TextServiceTest : public ::testing::Test {
 protected:
  static TestServerOptions Options() {
    TestServerOptions options;
    options.model_repository = TextRepository();
    return options;
  }

  grpc::Status Adapt(const v1::AdaptRequest& request, v1::AdaptResponse* response) {
    grpc::ClientContext ctx;
    return server_.stub().Adapt(&ctx, request, response);
  }
  grpc::Status Predict(const v1::PredictRequest& request, v1::PredictResponse* response) {
    grpc::ClientContext ctx;
    return server_.stub().Predict(&ctx, request, response);
  }
  // Adapts on sentences and checks held-out ones come back with their class.
  void ExpectServesText(v1::Method method) {
    v1::AdaptResponse adapted;
    grpc::Status status = Adapt(TextAdaptRequest(4, method), &adapted);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::PredictRequest request;
    request.set_adapter_id(adapted.adapter().adapter_id());
    for (int c = 0; c < 3; ++c) *request.add_inputs() = TextInput(TinySentence(c, 40 + c));
    v1::PredictResponse response;
    status = Predict(request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.predictions_size(), 3);
    for (int c = 0; c < 3; ++c) {
      EXPECT_EQ(response.predictions(c).label(), absl::StrCat("class", c));
    }
  }

  TestServer server_{Options()};
};

TEST_F(TextServiceTest, ListBackbonesReportsTheTokenizer) {
  grpc::ClientContext ctx;
  v1::ListBackbonesResponse response;
  ASSERT_TRUE(server_.stub().ListBackbones(&ctx, {}, &response).ok());
  ASSERT_EQ(response.backbones_size(), 2);
  const v1::Backbone& image = response.backbones(0);
  const v1::Backbone& text = response.backbones(1);
  EXPECT_EQ(image.modality(), "image");
  EXPECT_FALSE(image.has_text());
  EXPECT_EQ(text.name(), "words");
  EXPECT_EQ(text.modality(), "text");
  EXPECT_EQ(text.feature_dim(), 32);
  EXPECT_EQ(text.text().tokenizer(), "wordpiece");
  EXPECT_EQ(text.text().vocab_size(), 33);
  EXPECT_EQ(text.text().max_seq_length(), kMaxSeqLength);
  EXPECT_EQ(text.text().pooling(), "mean");
  EXPECT_TRUE(text.text().lower_case());
  EXPECT_FALSE(text.has_preprocessing());
}

TEST_F(TextServiceTest, AdaptsAndPredictsText) {
  ExpectServesText(v1::PROTOTYPE);
  ExpectServesText(v1::FINETUNE);
}

TEST_F(TextServiceTest, ReportsTruncatedTexts) {
  auto request = TextAdaptRequest(3, v1::PROTOTYPE);
  request.mutable_support(1)->mutable_input()->set_text(TinyLongSentence(0, 30));
  v1::AdaptResponse adapted;
  grpc::Status status = Adapt(request, &adapted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(adapted.adapter().stats().truncated_inputs(), 1);

  grpc::ClientContext get_ctx;
  v1::GetAdapterRequest get;
  get.set_adapter_id(adapted.adapter().adapter_id());
  v1::Adapter got;
  ASSERT_TRUE(server_.stub().GetAdapter(&get_ctx, get, &got).ok());
  EXPECT_EQ(got.stats().truncated_inputs(), 1);

  v1::PredictRequest predict;
  predict.set_adapter_id(adapted.adapter().adapter_id());
  *predict.add_inputs() = TextInput(TinySentence(1, 50));
  *predict.add_inputs() = TextInput(TinyLongSentence(2, 14));  // 16 tokens: fits.
  *predict.add_inputs() = TextInput(TinyLongSentence(2, 15));  // 17: one cut.
  v1::PredictResponse response;
  status = Predict(predict, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.predictions_size(), 3);
  EXPECT_FALSE(response.predictions(0).truncated());
  EXPECT_FALSE(response.predictions(1).truncated());
  EXPECT_TRUE(response.predictions(2).truncated());
  EXPECT_EQ(response.truncated_inputs(), 1);
}

TEST_F(TextServiceTest, BadTextInputGetsClearStatusAndTheServerKeepsServing) {
  struct Case {
    std::string name;
    std::function<void(v1::AdaptRequest&)> mutate;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"image to text", [](auto& r) { *r.mutable_support(1)->mutable_input() = PngInput(0, 0); },
       "support[1].input.image: this backbone takes text; set text"},
      {"tensor to text",
       [](auto& r) { *r.mutable_support(2)->mutable_input() = TensorInput(0, 0); },
       "support[2].input.tensor: this backbone takes text; set text"},
      {"missing", [](auto& r) { r.mutable_support(0)->clear_input(); },
       "support[0].input: is empty; set text"},
      {"text to image",
       [](auto& r) {
         r = AdaptRequest("tiny", 2, 2, v1::PROTOTYPE);
         *r.mutable_support(3)->mutable_input() = TextInput("a sentence");
       },
       "support[3].input.text: this backbone takes images; set tensor or image"},
      {"empty", [](auto& r) { r.mutable_support(3)->mutable_input()->set_text(""); },
       "support[3].input.text: is empty"},
      {"blank", [](auto& r) { r.mutable_support(4)->mutable_input()->set_text(" \t\n "); },
       "support[4].input.text: is empty"},
      {"too long",
       [](auto& r) { r.mutable_support(5)->mutable_input()->set_text(std::string(16385, 'a')); },
       "support[5].input.text: 16385 bytes exceeds the limit of 16384 bytes"},
  };
  for (const auto& c : cases) {
    auto request = TextAdaptRequest(2, v1::PROTOTYPE);
    c.mutate(request);
    v1::AdaptResponse response;
    grpc::Status status = Adapt(request, &response);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << c.name << ": "
                                                           << status.error_message();
    EXPECT_EQ(status.error_message(), c.message) << c.name;
  }

  v1::AdaptResponse adapted;
  ASSERT_TRUE(Adapt(TextAdaptRequest(2, v1::PROTOTYPE), &adapted).ok());
  v1::PredictRequest predict;
  predict.set_adapter_id(adapted.adapter().adapter_id());
  *predict.add_inputs() = TextInput("pizza and bread");
  *predict.add_inputs() = TensorInput(0, 0);
  v1::PredictResponse predicted;
  grpc::Status status = Predict(predict, &predicted);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "inputs[1].tensor: this backbone takes text; set text");

  ExpectServesText(v1::PROTOTYPE);
}

// proto3 refuses a string that is not UTF-8 when it parses the request;
// adaptd parses Adapt and Predict itself to name the input.
TEST_F(TextServiceTest, InvalidUtf8GetsAClearStatus) {
  auto request = TextAdaptRequest(2, v1::PROTOTYPE);
  request.mutable_support(2)->mutable_input()->set_text("caf\xc3 au lait");
  v1::AdaptResponse adapted;
  grpc::Status status = Adapt(request, &adapted);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "support[2].input.text: invalid UTF-8 at byte 3; text must be UTF-8");

  ASSERT_TRUE(Adapt(TextAdaptRequest(2, v1::PROTOTYPE), &adapted).ok());
  v1::PredictRequest predict;
  predict.set_adapter_id(adapted.adapter().adapter_id());
  *predict.add_inputs() = TextInput("pizza");
  *predict.add_inputs() = TextInput("surrogate \xed\xa0\x80");
  v1::PredictResponse predicted;
  status = Predict(predict, &predicted);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "inputs[1].text: invalid UTF-8 at byte 10; text must be UTF-8");

  // A bad label string is refused too, though not by name.
  request = TextAdaptRequest(2, v1::PROTOTYPE);
  request.mutable_support(0)->set_label("\xff");
  status = Adapt(request, &adapted);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("request: not a valid AdaptRequest"));

  ExpectServesText(v1::PROTOTYPE);
}

}  // namespace
}  // namespace adaptd::testing
