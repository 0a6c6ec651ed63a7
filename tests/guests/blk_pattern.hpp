// The data pattern the block guests write and verify: every byte is a function of its disk offset and a seed.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ukrun/block.h>
#include <ukrun/ukrun.h>

// A splitmix64 step per 8-byte word, so a misplaced or stale sector never matches by chance.
inline uint64_t pattern_word(uint64_t seed, uint64_t offset)
{
    uint64_t value = seed + (offset / 8) * 0x9e3779b97f4a7c15ull;
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ull;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebull;
    return value ^ (value >> 31);
}

inline uint8_t pattern_byte(uint64_t seed, uint64_t offset)
{
    return static_cast<uint8_t>(pattern_word(seed, offset) >> ((offset % 8) * 8));
}

inline void pattern_fill(uint64_t seed, uint64_t disk_offset, void* buffer, size_t bytes)
{
    auto* out = static_cast<uint8_t*>(buffer);
    for (size_t i = 0; i < bytes; ++i)
        out[i] = pattern_byte(seed, disk_offset + i);
}

// Returns the disk offset of the first wrong byte, or UINT64_MAX if all match.
inline uint64_t pattern_check(uint64_t seed, uint64_t disk_offset, const void* buffer, size_t bytes)
{
    const auto* in = static_cast<const uint8_t*>(buffer);
    for (size_t i = 0; i < bytes; ++i)
        if (in[i] != pattern_byte(seed, disk_offset + i))
            return disk_offset + i;
    return UINT64_MAX;
}

// blk_persist's pattern and how much of the disk it covers; the host test checks the image for it.
inline constexpr uint64_t persist_seed = 0x70657273697374ull;
inline constexpr uint64_t persist_region_max = 1u << 20;

// The guests all use the device declared as storage:block; without it they cannot test anything.
inline ukrun_block* acquire_storage(const char* guest)
{
    ukrun_block* dev = ukrun_block_acquire("storage");
    if (dev == nullptr) {
        printf("%s: no block device 'storage' (run with --block storage=PATH)\n", guest);
        ukrun_exit(2);
    }
    return dev;
}

// Ends the guest with a diagnosis when a block call fails.
inline void expect_ok(const char* guest, const char* what, int result)
{
    if (result != UKRUN_BLOCK_OK) {
        printf("%s: FAIL: %s: %s (%d)\n", guest, what, ukrun_block_strerror(result), result);
        ukrun_exit(1);
    }
}
