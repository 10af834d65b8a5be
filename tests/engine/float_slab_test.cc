#include "server/engine/adapt/float_slab.h"

#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace adaptd::engine {
namespace {

TEST(FloatSlabTest, BlocksAreDistinctAlignedAndKeepTheirValues) {
  constexpr int64_t kCount = 5 * 65;  // A 5-way head on 64-d features.
  std::vector<float*> blocks;
  for (int i = 0; i < 100; ++i) {  // More than one 64 KiB chunk's 49 blocks.
    float* p = FloatSlab::Allocate(kCount);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
    for (int64_t j = 0; j < kCount; ++j) p[j] = static_cast<float>(i * 1000 + j);
    blocks.push_back(p);
  }
  // No two blocks overlap: every value is still the one written.
  for (int i = 0; i < 100; ++i) {
    for (int64_t j = 0; j < kCount; ++j) ASSERT_EQ(blocks[i][j], static_cast<float>(i * 1000 + j));
  }
  for (float* p : blocks) FloatSlab::Free(p, kCount);
}

TEST(FloatSlabTest, FreedBlocksAreReusedWithoutNewChunks) {
  constexpr int64_t kCount = 7 * 33;
  float* first = FloatSlab::Allocate(kCount);
  FloatSlab::Free(first, kCount);
  const int64_t reserved = FloatSlab::ReservedBytes();
  for (int i = 0; i < 1000; ++i) {
    float* p = FloatSlab::Allocate(kCount);
    EXPECT_EQ(p, first);  // The block just freed comes back.
    FloatSlab::Free(p, kCount);
  }
  EXPECT_EQ(FloatSlab::ReservedBytes(), reserved);
}

TEST(FloatSlabTest, WholeChunksOfExactBlocks) {
  constexpr int64_t kCount = 20 * 65;  // 5,200 bytes: 12 blocks to a chunk.
  const int64_t before = FloatSlab::ReservedBytes();
  std::vector<float*> blocks;
  for (int i = 0; i < 12; ++i) blocks.push_back(FloatSlab::Allocate(kCount));
  // One chunk holds all twelve, back to back: no size-class rounding.
  EXPECT_EQ(FloatSlab::ReservedBytes() - before, 12 * kCount * 4);
  std::set<float*> distinct(blocks.begin(), blocks.end());
  EXPECT_EQ(distinct.size(), 12u);
  for (int i = 1; i < 12; ++i) EXPECT_EQ(blocks[i], blocks[i - 1] + kCount);
  for (float* p : blocks) FloatSlab::Free(p, kCount);
}

TEST(FloatSlabTest, LargeAndEmptyBlocks) {
  float* big = FloatSlab::Allocate(100000);  // 400 KB: the general allocator.
  ASSERT_NE(big, nullptr);
  big[99999] = 1;
  FloatSlab::Free(big, 100000);
  EXPECT_EQ(FloatSlab::Allocate(0), nullptr);
  FloatSlab::Free(nullptr, 10);
}

TEST(FloatSlabTest, ThreadsShareTheSlabSafely) {
  constexpr int64_t kCount = 3 * 65;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      std::vector<float*> mine;
      for (int round = 0; round < 200; ++round) {
        float* p = FloatSlab::Allocate(kCount);
        for (int64_t j = 0; j < kCount; ++j) p[j] = static_cast<float>(t);
        mine.push_back(p);
        if (round % 3 == 2) {
          for (int64_t j = 0; j < kCount; ++j) ASSERT_EQ(mine.front()[j], static_cast<float>(t));
          FloatSlab::Free(mine.front(), kCount);
          mine.erase(mine.begin());
        }
      }
      for (float* p : mine) {
        for (int64_t j = 0; j < kCount; ++j) ASSERT_EQ(p[j], static_cast<float>(t));
        FloatSlab::Free(p, kCount);
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

}  // namespace
}  // namespace adaptd::engine
