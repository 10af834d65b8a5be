#include "server/engine/adapt/float_slab.h"

#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace adaptd::engine {
namespace {

constexpr int64_t kChunkBytes = int64_t{64} << 10;
constexpr int64_t kLargestSlabBlock = int64_t{16} << 10;
// Blocks start on 16-byte boundaries (SIMD loads); 5-way 64-d heads, 1,300
// bytes, are already a multiple.
constexpr int64_t kAlignFloats = 4;

struct Slab {
  std::vector<std::unique_ptr<float[]>> chunks;
  std::vector<float*> free;
};

struct Slabs {
  absl::Mutex mu;
  absl::flat_hash_map<int64_t, Slab> by_stride ABSL_GUARDED_BY(mu);
  int64_t reserved_bytes ABSL_GUARDED_BY(mu) = 0;
};

Slabs& Global() {
  static Slabs* slabs = new Slabs;  // Never destroyed: heads may outlive main().
  return *slabs;
}

int64_t Stride(int64_t count) { return (count + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

bool Slabbed(int64_t count) { return Stride(count) * int64_t{sizeof(float)} <= kLargestSlabBlock; }

}  // namespace

float* FloatSlab::Allocate(int64_t count) {
  if (count <= 0) return nullptr;
  if (!Slabbed(count)) return new float[count];
  const int64_t stride = Stride(count);
  Slabs& slabs = Global();
  absl::MutexLock lock(&slabs.mu);
  Slab& slab = slabs.by_stride[stride];
  if (slab.free.empty()) {
    const int64_t blocks = kChunkBytes / (stride * int64_t{sizeof(float)});
    slab.chunks.emplace_back(new float[blocks * stride]);
    slabs.reserved_bytes += blocks * stride * int64_t{sizeof(float)};
    float* chunk = slab.chunks.back().get();
    slab.free.reserve(slab.free.size() + blocks);
    // Last block first, so that the first Allocate takes the chunk's start.
    for (int64_t b = blocks - 1; b >= 0; --b) slab.free.push_back(chunk + b * stride);
  }
  float* p = slab.free.back();
  slab.free.pop_back();
  return p;
}

void FloatSlab::Free(float* p, int64_t count) {
  if (p == nullptr || count <= 0) return;
  if (!Slabbed(count)) {
    delete[] p;
    return;
  }
  Slabs& slabs = Global();
  absl::MutexLock lock(&slabs.mu);
  slabs.by_stride[Stride(count)].free.push_back(p);
}

int64_t FloatSlab::ReservedBytes() {
  Slabs& slabs = Global();
  absl::MutexLock lock(&slabs.mu);
  return slabs.reserved_bytes;
}

}  // namespace adaptd::engine
