// Writes a pattern in requests of many sizes, flushes, reads it back and verifies, then does the same as one batch.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ukrun/block.h>
#include <ukrun/ukrun.h>

#include "blk_pattern.hpp"

namespace {

constexpr const char* guest = "blk";
constexpr uint64_t seed = 0x626c6b5f7277ull;
constexpr uint64_t region_max = 2u << 20;
constexpr size_t batch_count = 64;
constexpr size_t batch_bytes = 4096;

unsigned requests;

// Request sizes in sectors, chosen to cross page and max_request boundaries.
constexpr uint64_t size_cycle[] = {1, 7, 8, 3, 64, 129, 256, 2};

void check(const uint64_t bad, const char* what)
{
    if (bad != UINT64_MAX) {
        printf("%s: FAIL: %s: wrong data at disk offset %llu\n", guest, what,
               static_cast<unsigned long long>(bad));
        ukrun_exit(1);
    }
}

} // namespace

int main()
{
    ukrun_block* dev = acquire_storage(guest);
    const uint32_t sector_size = ukrun_block_sector_size(dev);
    const uint64_t capacity = ukrun_block_capacity(dev);
    printf("%s: storage: %llu sectors of %u bytes, max request %u, queue depth %u\n", guest,
           static_cast<unsigned long long>(capacity), sector_size, ukrun_block_max_request(dev),
           ukrun_block_queue_depth(dev));

    const uint64_t disk_bytes = capacity * sector_size;
    const uint64_t region = disk_bytes < region_max ? disk_bytes : region_max;
    // Larger than max_request, so the driver must split it.
    const uint64_t large = (ukrun_block_max_request(dev) / sector_size + 5) * sector_size;
    auto* buffer = static_cast<uint8_t*>(malloc(region > large ? region : large));
    if (buffer == nullptr || region < batch_count * batch_bytes) {
        printf("%s: FAIL: the disk needs at least %zu bytes\n", guest, batch_count * batch_bytes);
        return 1;
    }

    // Sequential writes of varied sizes over the region.
    uint64_t offset = 0;
    for (size_t i = 0; offset < region; ++i) {
        uint64_t bytes = size_cycle[i % (sizeof(size_cycle) / sizeof(size_cycle[0]))] * sector_size;
        if (bytes > region - offset)
            bytes = region - offset;
        pattern_fill(seed, offset, buffer, bytes);
        expect_ok(guest, "write", ukrun_block_write(dev, offset / sector_size, buffer, bytes));
        ++requests;
        offset += bytes;
    }
    expect_ok(guest, "flush", ukrun_block_flush(dev));
    ++requests;

    // Read back in different sizes, then the whole region at once.
    offset = 0;
    for (size_t i = 3; offset < region; ++i) {
        uint64_t bytes = size_cycle[i % (sizeof(size_cycle) / sizeof(size_cycle[0]))] * sector_size * 2;
        if (bytes > region - offset)
            bytes = region - offset;
        memset(buffer, 0, bytes);
        expect_ok(guest, "read", ukrun_block_read(dev, offset / sector_size, buffer, bytes));
        ++requests;
        check(pattern_check(seed, offset, buffer, bytes), "read back");
        offset += bytes;
    }
    memset(buffer, 0, region);
    expect_ok(guest, "whole-region read", ukrun_block_read(dev, 0, buffer, region));
    ++requests;
    check(pattern_check(seed, 0, buffer, region), "whole-region read");
    printf("%s: sequential write, flush and read back of %llu bytes verified\n", guest,
           static_cast<unsigned long long>(region));

    // One request larger than max_request.
    const uint64_t large_bytes = large <= region ? large : region;
    pattern_fill(seed + 1, 0, buffer, large_bytes);
    expect_ok(guest, "large write", ukrun_block_write(dev, 0, buffer, large_bytes));
    memset(buffer, 0, large_bytes);
    expect_ok(guest, "large read", ukrun_block_read(dev, 0, buffer, large_bytes));
    requests += 2;
    check(pattern_check(seed + 1, 0, buffer, large_bytes), "split request");

    // A batch: 64 writes to scattered 4 KiB blocks and a flush in one submit, then 64 reads.
    static ukrun_block_op ops[batch_count + 1];
    const uint64_t blocks = region / batch_bytes;
    for (size_t i = 0; i < batch_count; ++i) {
        // Spread over the region, and posted out of disk order.
        const uint64_t block = ((i * 37) % batch_count) * (blocks / batch_count);
        uint8_t* data = buffer + i * batch_bytes;
        pattern_fill(seed + 2, block * batch_bytes, data, batch_bytes);
        ops[i] = ukrun_block_op{UKRUN_BLOCK_T_WRITE, 0, block * batch_bytes / sector_size, data, batch_bytes};
    }
    ops[batch_count] = ukrun_block_op{UKRUN_BLOCK_T_FLUSH, 0, 0, nullptr, 0};
    expect_ok(guest, "batched writes", ukrun_block_submit(dev, ops, batch_count + 1));
    requests += batch_count + 1;
    memset(buffer, 0, batch_count * batch_bytes);
    for (size_t i = 0; i < batch_count; ++i)
        ops[i].type = UKRUN_BLOCK_T_READ;
    expect_ok(guest, "batched reads", ukrun_block_submit(dev, ops, batch_count));
    requests += batch_count;
    for (size_t i = 0; i < batch_count; ++i)
        check(pattern_check(seed + 2, ops[i].sector * sector_size, ops[i].buffer, batch_bytes),
              "batched read");
    printf("%s: batch of %zu writes + flush and %zu reads verified\n", guest, batch_count, batch_count);

    // Requests the device must refuse but still complete, and one the driver refuses.
    int result = ukrun_block_read(dev, capacity, buffer, sector_size);
    if (result != UKRUN_BLOCK_EIO) {
        printf("%s: FAIL: read past the end returned %d, expected EIO\n", guest, result);
        return 1;
    }
    result = ukrun_block_read(dev, capacity - 1, buffer, 2 * sector_size);
    if (result != UKRUN_BLOCK_EIO) {
        printf("%s: FAIL: read across the end returned %d, expected EIO\n", guest, result);
        return 1;
    }
    result = ukrun_block_read(dev, 0, buffer, sector_size + 1);
    if (result != UKRUN_BLOCK_EINVAL) {
        printf("%s: FAIL: a partial-sector read returned %d, expected EINVAL\n", guest, result);
        return 1;
    }
    // The queue still works after refused requests.
    expect_ok(guest, "read after errors", ukrun_block_read(dev, 0, buffer, sector_size));
    requests += 3;
    printf("%s: out-of-range requests failed with EIO\n", guest);

    printf("%s: ok, %u requests\n", guest, requests);
    return 0;
}
