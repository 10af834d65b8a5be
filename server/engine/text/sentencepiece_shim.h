// The C ABI between the engine and libsentencepiece (libsentencepiece-dev).
//
// Why a C ABI: Debian's libsentencepiece carries its own copy of protobuf
// 3.14 and exports its symbols, which clash with the system libprotobuf that
// the rest of adaptd links; with both in one symbol scope the process aborts
// at start ("compiled against version 3.14.0 ... installed version 3.21.12").
// So sentencepiece_shim.cc is built into a small shared object, embedded in
// the binary, and loaded with dlmopen into a link-map namespace of its own
// (sentencepiece_library.h), where libsentencepiece and its protobuf see
// only each other. Nothing but plain C types crosses: no C++ object, no
// exception (the two namespaces have their own C++ runtimes), and memory is
// freed on the side that allocated it; results come back through callbacks.
//
// Only standard headers here: this file is compiled on both sides.
#ifndef ADAPTD_SERVER_ENGINE_TEXT_SENTENCEPIECE_SHIM_H_
#define ADAPTD_SERVER_ENGINE_TEXT_SENTENCEPIECE_SHIM_H_

#include <cstddef>

extern "C" {

// Bumped whenever a member changes.
#define ADAPTD_SENTENCEPIECE_ABI_VERSION 1

// Receives bytes (a model, a decoded text, an error message) or ids.
typedef void (*AdaptdSpmBytesSink)(void* context, const char* data, size_t size);
typedef void (*AdaptdSpmIdsSink)(void* context, const int* ids, size_t size);

// The types piece_type reports.
enum AdaptdSpmPieceType {
  ADAPTD_SPM_NORMAL = 0,  // Learned, or a user-defined symbol.
  ADAPTD_SPM_UNKNOWN = 1,
  ADAPTD_SPM_CONTROL = 2,  // Never produced from text: <s>, </s>, [CLS], ...
  ADAPTD_SPM_UNUSED = 3,
  ADAPTD_SPM_BYTE = 4,
};

// Every function but release, num_pieces, special_ids and piece returns 0 on success; on failure, nonzero after
// passing a message to `error`. A processor is thread-safe once loaded.
struct AdaptdSentencePieceApi {
  int abi_version;
  // A processor for a serialized ModelProto (a .model file's bytes).
  int (*load)(const char* model, size_t size, void** processor, AdaptdSpmBytesSink error,
              void* error_context);
  void (*release)(void* processor);
  int (*num_pieces)(const void* processor);
  // The model's unk, bos, eos and pad ids, in that order; -1 where disabled.
  void (*special_ids)(const void* processor, int ids[4]);
  // Piece `id` to `sink`; returns its AdaptdSpmPieceType, or -1 (and no
  // call to `sink`) unless 0 <= id < num_pieces.
  int (*piece)(const void* processor, int id, AdaptdSpmBytesSink sink, void* context);
  // The ids of `text` (normalized by the model's rules) to `sink`.
  int (*encode)(const void* processor, const char* text, size_t size, AdaptdSpmIdsSink sink,
                void* context, AdaptdSpmBytesSink error, void* error_context);
  // The text of `ids` to `sink`.
  int (*decode)(const void* processor, const int* ids, size_t size, AdaptdSpmBytesSink sink,
                void* context, AdaptdSpmBytesSink error, void* error_context);
  // SentencePieceTrainer::Train with the trainer flags `keys[i]=values[i]`
  // over `sentences` (each `sizes[i]` bytes), seeding SentencePiece's random
  // generator with `seed`; the serialized model to `model`.
  int (*train)(const char* const* keys, const char* const* values, size_t num_flags,
               const char* const* sentences, const size_t* sizes, size_t num_sentences,
               unsigned seed, AdaptdSpmBytesSink model, void* model_context,
               AdaptdSpmBytesSink error, void* error_context);
};

// The shim's one exported symbol.
const AdaptdSentencePieceApi* adaptd_sentencepiece_api(void);
#define ADAPTD_SENTENCEPIECE_API_SYMBOL "adaptd_sentencepiece_api"

}  // extern "C"

#endif  // ADAPTD_SERVER_ENGINE_TEXT_SENTENCEPIECE_SHIM_H_
