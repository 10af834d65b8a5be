// Exact-size blocks of floats for the many small, long-lived adapter heads.
// A general-purpose allocator rounds a block up to its next size class (a
// 5-way head's 1,300 bytes take jemalloc's 1,536); a slab of equal blocks,
// carved from 64 KiB chunks, wastes nothing per block. Freed blocks are kept
// for the next head of the same size and never go back to the system, so a
// slab's memory is the most heads of that size held at once. Blocks larger
// than 16 KiB come from the general allocator. Thread-safe.
//
//   float* p = FloatSlab::Allocate(n);
//   ...
//   FloatSlab::Free(p, n);  // the same n
#ifndef ADAPTD_SERVER_ENGINE_ADAPT_FLOAT_SLAB_H_
#define ADAPTD_SERVER_ENGINE_ADAPT_FLOAT_SLAB_H_

#include <cstdint>

namespace adaptd::engine {

class FloatSlab {
 public:
  // `count` floats, uninitialised, 16-byte aligned; null for count <= 0.
  static float* Allocate(int64_t count);
  // REQUIRES: `p` came from Allocate(count) and is not used after.
  static void Free(float* p, int64_t count);
  // Bytes held in chunks, in use or free (for tests and diagnostics).
  static int64_t ReservedBytes();
};

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ADAPT_FLOAT_SLAB_H_
