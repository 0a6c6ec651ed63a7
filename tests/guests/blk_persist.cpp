// Durability: "write" writes and flushes a pattern, then waits to be killed; "verify" (a new VM) reads it back.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ukrun/block.h>
#include <ukrun/ukrun.h>

#include "blk_pattern.hpp"

namespace {
constexpr const char* guest = "persist";
} // namespace

int main(int argc, char** argv)
{
    if (argc != 2 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "verify") != 0)) {
        printf("usage: blk_persist write|verify\n");
        return 2;
    }
    ukrun_block* dev = acquire_storage(guest);
    const uint32_t sector_size = ukrun_block_sector_size(dev);
    const uint64_t disk_bytes = ukrun_block_capacity(dev) * sector_size;
    const uint64_t region = disk_bytes < persist_region_max ? disk_bytes : persist_region_max;
    auto* buffer = static_cast<uint8_t*>(malloc(region));
    if (buffer == nullptr || region == 0) {
        printf("%s: FAIL: no buffer for %llu bytes\n", guest, static_cast<unsigned long long>(region));
        return 1;
    }

    if (strcmp(argv[1], "write") == 0) {
        pattern_fill(persist_seed, 0, buffer, region);
        expect_ok(guest, "write", ukrun_block_write(dev, 0, buffer, region));
        expect_ok(guest, "flush", ukrun_block_flush(dev));
        printf("flushed\n");
        // The test kills ukrun here: only what the flush made durable may be relied on.
        ukrun_sleep_ns(3600ull * 1'000'000'000ull);
        printf("%s: %s\n", guest, ukrun_shutdown_requested() ? "shutdown requested" : "woke up without being killed");
        return 0;
    }

    expect_ok(guest, "read", ukrun_block_read(dev, 0, buffer, region));
    const uint64_t bad = pattern_check(persist_seed, 0, buffer, region);
    if (bad != UINT64_MAX) {
        printf("%s: FAIL: wrong data at disk offset %llu\n", guest, static_cast<unsigned long long>(bad));
        return 1;
    }
    printf("%s: ok\n", guest);
    return 0;
}
