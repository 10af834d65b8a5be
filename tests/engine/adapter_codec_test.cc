#include "server/engine/store/adapter_codec.h"

#include <torch/torch.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/engine/adapt/adapter_head.h"
#include "server/engine/adapt/adapter_tensors.h"

namespace adaptd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

AdapterInfo SampleInfo() {
  AdapterInfo info;
  info.adapter_id = "ad_0123456789abcdef";
  info.tenant = "alice";
  info.request_id = "req-7";
  info.backbone = "tiny";
  info.method = Method::kMeta;
  info.labels = {"cat", "dog", "\xe7\x8c\xab"};
  info.support_size = 15;
  info.size_bytes = 1234;
  info.create_time = absl::FromUnixNanos(1700000000123456789);
  info.expire_time = info.create_time + absl::Hours(3);
  info.stats.adapt_seconds = 0.25;
  info.stats.backbone_seconds = 0.125;
  info.stats.steps = 5;
  info.stats.support_loss_before = 1.5;
  info.stats.support_loss_after = 0.5;
  info.stats.device = "cpu";
  info.stats.compute_seconds = 0.0625;
  return info;
}

HeadData SampleHead() {
  HeadData head;
  head.classes = 3;
  head.dim = 4;
  for (int i = 0; i < 12; ++i) head.weight.push_back(0.1f * static_cast<float>(i) - 0.3f);
  head.bias = {0.5f, -1.25f, 3e-8f};
  return head;
}

TEST(AdapterCodecTest, RoundTripsEveryField) {
  const std::string bytes = EncodeAdapterRecord(SampleInfo(), SampleHead());
  auto decoded = DecodeAdapterRecord(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const AdapterInfo& got = decoded->info;
  const AdapterInfo want = SampleInfo();
  EXPECT_EQ(got.adapter_id, want.adapter_id);
  EXPECT_EQ(got.tenant, want.tenant);
  EXPECT_EQ(got.request_id, want.request_id);
  EXPECT_EQ(got.backbone, want.backbone);
  EXPECT_EQ(got.method, want.method);
  EXPECT_EQ(got.labels, want.labels);
  EXPECT_EQ(got.support_size, want.support_size);
  EXPECT_EQ(got.size_bytes, want.size_bytes);
  EXPECT_EQ(got.create_time, want.create_time);
  EXPECT_EQ(got.expire_time, want.expire_time);
  EXPECT_EQ(got.stats.adapt_seconds, want.stats.adapt_seconds);
  EXPECT_EQ(got.stats.backbone_seconds, want.stats.backbone_seconds);
  EXPECT_EQ(got.stats.steps, want.stats.steps);
  EXPECT_EQ(got.stats.support_loss_before, want.stats.support_loss_before);
  EXPECT_EQ(got.stats.support_loss_after, want.stats.support_loss_after);
  EXPECT_EQ(got.stats.device, want.stats.device);
  EXPECT_EQ(got.stats.compute_seconds, want.stats.compute_seconds);
  EXPECT_EQ(decoded->head.classes, 3);
  EXPECT_EQ(decoded->head.dim, 4);
  EXPECT_EQ(decoded->head.weight, SampleHead().weight);
  EXPECT_EQ(decoded->head.bias, SampleHead().bias);
}

TEST(AdapterCodecTest, EveryFlippedByteIsDetected) {
  const std::string bytes = EncodeAdapterRecord(SampleInfo(), SampleHead());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(corrupt[i] ^ mask);
      auto decoded = DecodeAdapterRecord(corrupt);
      ASSERT_FALSE(decoded.ok()) << "byte " << i << " mask " << int{mask};
      const auto code = decoded.status().code();
      EXPECT_TRUE(code == absl::StatusCode::kDataLoss ||
                  code == absl::StatusCode::kFailedPrecondition)
          << decoded.status();
    }
  }
}

TEST(AdapterCodecTest, EveryTruncationIsDetected) {
  const std::string bytes = EncodeAdapterRecord(SampleInfo(), SampleHead());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = DecodeAdapterRecord(bytes.substr(0, n));
    ASSERT_FALSE(decoded.ok()) << n;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << n;
  }
  EXPECT_FALSE(DecodeAdapterRecord(bytes + "x").ok());
}

TEST(AdapterCodecTest, NamesWhatIsWrong) {
  std::string bytes = EncodeAdapterRecord(SampleInfo(), SampleHead());
  EXPECT_THAT(std::string(DecodeAdapterRecord("hello, world, hi!").status().message()),
              HasSubstr("bad magic"));
  std::string flipped = bytes;
  flipped.back() = static_cast<char>(flipped.back() ^ 1);
  EXPECT_THAT(std::string(DecodeAdapterRecord(flipped).status().message()),
              HasSubstr("checksum mismatch"));
  std::string newer = bytes;
  newer[4] = 2;
  auto status = DecodeAdapterRecord(newer).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("version 2"));
}

TEST(AdapterCodecTest, RejectsAHeadThatDoesNotMatchItsShape) {
  HeadData head = SampleHead();
  head.bias.pop_back();
  auto decoded = DecodeAdapterRecord(EncodeAdapterRecord(SampleInfo(), head));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("head shape"));
}

TEST(AdapterTensorsTest, RoundTripsTheHeadBitForBit) {
  auto adapter = std::make_shared<Adapter>();
  adapter->info = SampleInfo();
  auto head = std::make_shared<AdapterHead>(torch::randn({3, 4}), torch::randn({3}));
  adapter->head = head;
  auto bytes = EncodeAdapter(*adapter);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  std::vector<std::string> asked;
  auto decoded = DecodeAdapter(*bytes, [&](const std::string& backbone) {
    asked.push_back(backbone);
    return absl::StatusOr<c10::Device>(c10::Device(c10::kCPU));
  });
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(asked, ElementsAre("tiny"));
  EXPECT_EQ((*decoded)->info.labels, adapter->info.labels);
  EXPECT_TRUE(torch::equal((*decoded)->head->weight(), head->weight()));
  EXPECT_TRUE(torch::equal((*decoded)->head->bias(), head->bias()));
  EXPECT_FALSE((*decoded)->head->weight().requires_grad());
}

TEST(AdapterHeadTest, KeepsItsOwnCopyOfWeightAndBias) {
  at::Tensor weight = torch::randn({3, 4}), bias = torch::randn({3});
  AdapterHead head(weight, bias);
  EXPECT_EQ(head.classes(), 3);
  EXPECT_EQ(head.TensorBytes(), 3 * 5 * 4);
  EXPECT_TRUE(torch::equal(head.weight(), weight));
  EXPECT_TRUE(torch::equal(head.bias(), bias));
  EXPECT_EQ(head.packed().sizes(), (std::vector<int64_t>{3, 5}));
  // The head's floats, not the sources': later changes to them do not leak
  // in, and every view reads the same memory.
  const at::Tensor before = head.weight().clone();
  weight.add_(1);
  bias.zero_();
  EXPECT_TRUE(torch::equal(head.weight(), before));
  EXPECT_FALSE(torch::equal(head.bias(), bias));
  EXPECT_EQ(head.packed().data_ptr(), head.packed().data_ptr());
  // Doubles (a trainer's head) are stored as floats.
  AdapterHead from_double(weight.to(torch::kDouble), bias.to(torch::kDouble));
  EXPECT_EQ(from_double.weight().scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(from_double.weight(), weight));
}

TEST(AdapterTensorsTest, UnknownBackboneIsTheResolversError) {
  auto adapter = std::make_shared<Adapter>();
  adapter->info = SampleInfo();
  auto head = std::make_shared<AdapterHead>(torch::zeros({3, 4}), torch::zeros({3}));
  adapter->head = head;
  auto decoded = DecodeAdapter(*EncodeAdapter(*adapter), [](const std::string&) {
    return absl::StatusOr<c10::Device>(absl::FailedPreconditionError("not loaded"));
  });
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(DecodeAdapter("garbage", [](const std::string&) {
                 return absl::StatusOr<c10::Device>(c10::Device(c10::kCPU));
               }).ok());
}

}  // namespace
}  // namespace adaptd::engine
