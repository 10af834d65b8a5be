// libFuzzer target over everything a client controls before LibTorch runs:
// whole AdaptRequest / PredictRequest messages parsed from fuzz bytes, and
// raw tensors and encoded images given straight to the decoder.
//
//   make fuzz            # builds with clang-14 and runs 60 s on the corpus
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "adaptd/v1/adaptd.pb.h"
#include "server/engine/input/input_decoder.h"

namespace {

using adaptd::engine::DecodeInput;
using adaptd::engine::DecodeLimits;
using adaptd::engine::InputRef;

const std::vector<int64_t> kShapes[] = {{1, 28, 28}, {3, 32, 32}};

InputRef FromProto(const adaptd::v1::Input& input) {
  InputRef ref;
  if (input.has_tensor()) {
    ref.kind = InputRef::Kind::kTensor;
    ref.shape.assign(input.tensor().shape().begin(), input.tensor().shape().end());
    ref.dtype = static_cast<adaptd::engine::DType>(input.tensor().dtype());
    ref.data = input.tensor().data();
  } else if (input.kind_case() == adaptd::v1::Input::kImage) {
    ref.kind = InputRef::Kind::kImage;
    ref.data = input.image();
  }
  return ref;
}

void Decode(const InputRef& ref, const std::vector<int64_t>& shape) {
  adaptd::engine::Preprocessing pre;
  pre.channels = static_cast<int>(shape[0]);
  pre.mean.assign(shape[0], 0.5f);
  pre.std.assign(shape[0], 0.25f);
  DecodeLimits limits;
  limits.max_image_bytes = 1 << 20;
  limits.max_image_pixels = 512 * 512;
  std::vector<float> out(shape[0] * shape[1] * shape[2]);
  // Errors are expected; crashes, leaks and undefined behaviour are not.
  (void)DecodeInput(ref, shape, pre, limits, "fuzz", out.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 4;
  const auto* bytes = reinterpret_cast<const char*>(data + 1);
  const size_t n = size - 1;
  const auto& shape = kShapes[data[0] / 4 % 2];
  switch (mode) {
    case 0: {
      adaptd::v1::AdaptRequest request;
      if (!request.ParseFromArray(bytes, static_cast<int>(n))) return 0;
      for (const auto& example : request.support()) Decode(FromProto(example.input()), shape);
      break;
    }
    case 1: {
      adaptd::v1::PredictRequest request;
      if (!request.ParseFromArray(bytes, static_cast<int>(n))) return 0;
      for (const auto& input : request.inputs()) Decode(FromProto(input), shape);
      break;
    }
    case 2: {
      InputRef ref;
      ref.kind = InputRef::Kind::kImage;
      ref.data = absl::string_view(bytes, n);
      Decode(ref, shape);
      break;
    }
    default: {
      InputRef ref;
      ref.kind = InputRef::Kind::kTensor;
      ref.shape = shape;
      ref.dtype = n % 2 ? adaptd::engine::DType::kUint8 : adaptd::engine::DType::kFloat32;
      ref.data = absl::string_view(bytes, n);
      Decode(ref, shape);
      break;
    }
  }
  return 0;
}
