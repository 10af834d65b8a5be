#include "server/engine/text/sentencepiece_library.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

// The shim shared object's bytes, embedded by CMake (embed_file.cmake).
extern "C" const unsigned char kAdaptdSentencePieceShim[];
extern "C" const size_t kAdaptdSentencePieceShimSize;

namespace adaptd::engine {
namespace {

// Writes the embedded shim to an anonymous file and loads it, with
// libsentencepiece and its own C++ runtime, into a new link-map namespace.
absl::StatusOr<const AdaptdSentencePieceApi*> LoadShim() {
  const int fd = memfd_create("adaptd-sentencepiece-shim", MFD_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("sentencepiece: memfd_create failed: ", std::strerror(errno)));
  }
  size_t written = 0;
  while (written < kAdaptdSentencePieceShimSize) {
    const ssize_t n =
        write(fd, kAdaptdSentencePieceShim + written, kAdaptdSentencePieceShimSize - written);
    if (n <= 0) {
      const int error = errno;
      close(fd);
      return absl::UnavailableError(
          absl::StrCat("sentencepiece: writing the shim failed: ", std::strerror(error)));
    }
    written += static_cast<size_t>(n);
  }
  const std::string path = absl::StrCat("/proc/self/fd/", fd);
  void* handle = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
  close(fd);
  if (handle == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "sentencepiece: cannot load libsentencepiece (install libsentencepiece0): ", dlerror()));
  }
  using ApiFunction = const AdaptdSentencePieceApi* (*)();
  auto api_function =
      reinterpret_cast<ApiFunction>(dlsym(handle, ADAPTD_SENTENCEPIECE_API_SYMBOL));
  const AdaptdSentencePieceApi* api = api_function != nullptr ? api_function() : nullptr;
  if (api == nullptr || api->abi_version != ADAPTD_SENTENCEPIECE_ABI_VERSION) {
    return absl::InternalError("sentencepiece: the embedded shim does not match this binary");
  }
  // The handle stays open for the life of the process.
  return api;
}

}  // namespace

absl::StatusOr<const AdaptdSentencePieceApi*> SentencePieceApi() {
  static const absl::StatusOr<const AdaptdSentencePieceApi*>* const api =
      new absl::StatusOr<const AdaptdSentencePieceApi*>(LoadShim());
  return *api;
}

void BytesSink(void* context, const char* data, size_t size) {
  static_cast<std::string*>(context)->assign(data, size);
}

SentencePieceFlags BertSpecialPieceFlags() {
  return {{"pad_id", "0"},          {"unk_id", "1"},          {"bos_id", "2"},
          {"eos_id", "3"},          {"pad_piece", "[PAD]"},   {"unk_piece", "[UNK]"},
          {"bos_piece", "[CLS]"},   {"eos_piece", "[SEP]"},   {"control_symbols", "[MASK]"}};
}

absl::StatusOr<std::string> TrainSentencePieceModel(const std::vector<std::string>& sentences,
                                                    const SentencePieceFlags& flags,
                                                    uint32_t seed) {
  absl::StatusOr<const AdaptdSentencePieceApi*> api = SentencePieceApi();
  if (!api.ok()) return api.status();
  std::vector<const char*> keys, values, texts;
  std::vector<size_t> sizes;
  bool log_level = false;
  for (const auto& [key, value] : flags) log_level |= key == "minloglevel";
  if (!log_level) {
    keys.push_back("minloglevel");
    values.push_back("1");
  }
  for (const auto& [key, value] : flags) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  texts.reserve(sentences.size());
  sizes.reserve(sentences.size());
  for (const std::string& sentence : sentences) {
    texts.push_back(sentence.data());
    sizes.push_back(sentence.size());
  }
  std::string model, error;
  if ((*api)->train(keys.data(), values.data(), keys.size(), texts.data(), sizes.data(),
                    texts.size(), seed, &BytesSink, &model, &BytesSink, &error) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("sentencepiece training: ", error));
  }
  return model;
}

}  // namespace adaptd::engine
