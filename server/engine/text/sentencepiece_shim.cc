// The shim of sentencepiece_shim.h, built into a shared object of its own
// and loaded into a private link-map namespace. It includes no Abseil: the
// SentencePiece headers declare their own absl::string_view.
#include "server/engine/text/sentencepiece_shim.h"

#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

namespace {

using sentencepiece::SentencePieceProcessor;

// Reports `status` to `error`; returns 0 when it is OK, else 1.
int Report(const sentencepiece::util::Status& status, AdaptdSpmBytesSink error, void* context) {
  if (status.ok()) return 0;
  const std::string message = status.ToString();
  error(context, message.data(), message.size());
  return 1;
}

// Runs `body`, turning any exception into an error: none may leave the shim.
template <typename Body>
int Guarded(Body body, AdaptdSpmBytesSink error, void* context) {
  try {
    return body();
  } catch (const std::exception& e) {
    const std::string message = std::string("sentencepiece: ") + e.what();
    error(context, message.data(), message.size());
  } catch (...) {
    const std::string message = "sentencepiece: unknown exception";
    error(context, message.data(), message.size());
  }
  return 1;
}

const SentencePieceProcessor& Processor(const void* processor) {
  return *static_cast<const SentencePieceProcessor*>(processor);
}

// The caller's sentences, for the trainer.
class Sentences : public sentencepiece::SentenceIterator {
 public:
  Sentences(const char* const* sentences, const size_t* sizes, size_t size)
      : sentences_(sentences), sizes_(sizes), size_(size) { Load(); }
  bool done() const override { return next_ > size_; }
  void Next() override { Load(); }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  void Load() {
    if (next_ < size_) value_.assign(sentences_[next_], sizes_[next_]);
    ++next_;
  }
  const char* const* sentences_;
  const size_t* sizes_;
  size_t size_;
  size_t next_ = 0;
  std::string value_;
};

int Load(const char* model, size_t size, void** processor, AdaptdSpmBytesSink error,
         void* context) {
  return Guarded(
      [&] {
        auto loaded = std::make_unique<SentencePieceProcessor>();
        if (Report(loaded->LoadFromSerializedProto(std::string_view(model, size)), error,
                   context) != 0) {
          return 1;
        }
        *processor = loaded.release();
        return 0;
      },
      error, context);
}

void Release(void* processor) { delete static_cast<SentencePieceProcessor*>(processor); }

int NumPieces(const void* processor) { return Processor(processor).GetPieceSize(); }

void SpecialIds(const void* processor, int ids[4]) {
  const SentencePieceProcessor& p = Processor(processor);
  ids[0] = p.unk_id();
  ids[1] = p.bos_id();
  ids[2] = p.eos_id();
  ids[3] = p.pad_id();
}

int Piece(const void* processor, int id, AdaptdSpmBytesSink sink, void* context) {
  const SentencePieceProcessor& p = Processor(processor);
  if (id < 0 || id >= p.GetPieceSize()) return -1;
  const std::string& piece = p.IdToPiece(id);
  sink(context, piece.data(), piece.size());
  if (p.IsUnknown(id)) return ADAPTD_SPM_UNKNOWN;
  if (p.IsControl(id)) return ADAPTD_SPM_CONTROL;
  if (p.IsUnused(id)) return ADAPTD_SPM_UNUSED;
  if (p.IsByte(id)) return ADAPTD_SPM_BYTE;
  return ADAPTD_SPM_NORMAL;
}

int Encode(const void* processor, const char* text, size_t size, AdaptdSpmIdsSink sink,
           void* context, AdaptdSpmBytesSink error, void* error_context) {
  return Guarded(
      [&] {
        std::vector<int> ids;
        if (Report(Processor(processor).Encode(std::string_view(text, size), &ids), error,
                   error_context) != 0) {
          return 1;
        }
        sink(context, ids.data(), ids.size());
        return 0;
      },
      error, error_context);
}

int Decode(const void* processor, const int* ids, size_t size, AdaptdSpmBytesSink sink,
           void* context, AdaptdSpmBytesSink error, void* error_context) {
  return Guarded(
      [&] {
        std::string text;
        if (Report(Processor(processor).Decode(std::vector<int>(ids, ids + size), &text), error,
                   error_context) != 0) {
          return 1;
        }
        sink(context, text.data(), text.size());
        return 0;
      },
      error, error_context);
}

int Train(const char* const* keys, const char* const* values, size_t num_flags,
          const char* const* sentences, const size_t* sizes, size_t num_sentences, unsigned seed,
          AdaptdSpmBytesSink model, void* model_context, AdaptdSpmBytesSink error,
          void* error_context) {
  return Guarded(
      [&] {
        std::unordered_map<std::string, std::string> flags;
        for (size_t i = 0; i < num_flags; ++i) flags[keys[i]] = values[i];
        sentencepiece::SetRandomGeneratorSeed(seed);
        Sentences iterator(sentences, sizes, num_sentences);
        std::string serialized;
        if (Report(sentencepiece::SentencePieceTrainer::Train(flags, &iterator, &serialized),
                   error, error_context) != 0) {
          return 1;
        }
        model(model_context, serialized.data(), serialized.size());
        return 0;
      },
      error, error_context);
}

const AdaptdSentencePieceApi kApi = {
    ADAPTD_SENTENCEPIECE_ABI_VERSION, Load, Release, NumPieces, SpecialIds, Piece, Encode,
    Decode, Train,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const AdaptdSentencePieceApi*
adaptd_sentencepiece_api(void) {
  return &kApi;
}
