// Run with a read-only disk: reads succeed, and a write must come back from the device as an I/O error.

#include <stdio.h>
#include <string.h>

#include <ukrun/block.h>
#include <ukrun/ukrun.h>

#include "blk_pattern.hpp"

namespace {
constexpr const char* guest = "blk readonly";
uint8_t buffer[64 * 1024];
} // namespace

int main()
{
    ukrun_block* dev = acquire_storage(guest);
    const uint32_t sector_size = ukrun_block_sector_size(dev);
    if (!ukrun_block_readonly(dev)) {
        printf("%s: FAIL: the device is not marked read-only\n", guest);
        return 1;
    }
    const uint64_t bytes = sizeof(buffer) - sizeof(buffer) % sector_size;
    if (bytes == 0 || ukrun_block_capacity(dev) * sector_size < bytes) {
        printf("%s: FAIL: the disk needs at least %llu bytes\n", guest, static_cast<unsigned long long>(bytes));
        return 1;
    }
    expect_ok(guest, "read", ukrun_block_read(dev, 0, buffer, bytes));
    printf("%s: read of %llu bytes succeeded\n", guest, static_cast<unsigned long long>(bytes));

    // The driver sends the write; only the device may refuse it.
    const int result = ukrun_block_write(dev, 0, buffer, sector_size);
    if (result != UKRUN_BLOCK_EIO) {
        printf("%s: FAIL: write returned %d (%s), expected EIO\n", guest, result, ukrun_block_strerror(result));
        return 1;
    }
    printf("%s: write refused: %s\n", guest, ukrun_block_strerror(result));

    // The refused request was completed, so the queue goes on working.
    expect_ok(guest, "read after the refused write", ukrun_block_read(dev, 1, buffer, sector_size));
    printf("%s: ok\n", guest);
    return 0;
}
