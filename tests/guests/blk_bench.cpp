// Block throughput measured inside the guest: sequential and random reads and writes of 4 KiB and 64 KiB, queue depth 32.

#include <stdio.h>
#include <stdlib.h>

#include <ukrun/block.h>
#include <ukrun/ukrun.h>

#include "blk_pattern.hpp"

namespace {

constexpr const char* guest = "bench";
constexpr uint32_t wanted_depth = 32;
constexpr uint64_t default_region_max = 64ull << 20;

struct Case {
    const char* name;
    uint32_t type;
    bool random;
};

uint64_t xorshift(uint64_t& state)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

// Prints value / scale with two decimals; the console formatter has no floating point.
void print_fixed(const char* label, uint64_t numerator, uint64_t denominator)
{
    const uint64_t hundredths = denominator == 0 ? 0 : numerator * 100 / denominator;
    printf(" %s=%llu.%02llu", label, static_cast<unsigned long long>(hundredths / 100),
           static_cast<unsigned long long>(hundredths % 100));
}

} // namespace

int main(int argc, char** argv)
{
    ukrun_block* dev = acquire_storage(guest);
    const uint32_t sector_size = ukrun_block_sector_size(dev);
    const uint64_t disk_bytes = ukrun_block_capacity(dev) * sector_size;
    uint64_t region = disk_bytes < default_region_max ? disk_bytes : default_region_max;
    if (argc > 1) {
        // argv[1]: MiB of the disk to cover; 0 means all of it.
        const uint64_t mib = strtoull(argv[1], nullptr, 10);
        region = mib == 0 || mib << 20 > disk_bytes ? disk_bytes : mib << 20;
    }
    const uint32_t queue_depth = ukrun_block_queue_depth(dev);
    const uint32_t depth = queue_depth < wanted_depth ? queue_depth : wanted_depth;
    const size_t sizes[] = {4096, 65536};
    auto* buffer = static_cast<uint8_t*>(malloc(depth * sizes[1]));
    auto* ops = static_cast<ukrun_block_op*>(calloc(depth, sizeof(ukrun_block_op)));
    if (buffer == nullptr || ops == nullptr || region < sizes[1] || sizes[0] % sector_size != 0) {
        printf("%s: FAIL: needs a disk of at least 64 KiB with sectors of at most 4 KiB\n", guest);
        return 1;
    }
    // Writes carry a pattern; the benchmark does not verify it, blk_rw does.
    pattern_fill(1, 0, buffer, depth * sizes[1]);
    printf("%s: %llu MiB of %llu MiB, queue depth %u, max request %u\n", guest,
           static_cast<unsigned long long>(region >> 20), static_cast<unsigned long long>(disk_bytes >> 20),
           depth, ukrun_block_max_request(dev));

    const Case cases[] = {
        {"seq-write", UKRUN_BLOCK_T_WRITE, false},
        {"seq-read", UKRUN_BLOCK_T_READ, false},
        {"rand-write", UKRUN_BLOCK_T_WRITE, true},
        {"rand-read", UKRUN_BLOCK_T_READ, true},
    };
    for (const size_t size : sizes) {
        const uint64_t slots = region / size;
        for (const Case& c : cases) {
            uint64_t state = 0x2545f4914f6cdd1dull;
            uint64_t next = 0;
            uint64_t requests = 0;
            const uint64_t start = ukrun_monotonic_ns();
            while (requests < slots) {
                const uint64_t left = slots - requests;
                const size_t n = left < depth ? static_cast<size_t>(left) : depth;
                for (size_t i = 0; i < n; ++i) {
                    const uint64_t slot = c.random ? xorshift(state) % slots : next++;
                    ops[i] = ukrun_block_op{c.type, 0, slot * size / sector_size, buffer + i * size, size};
                }
                expect_ok(guest, c.name, ukrun_block_submit(dev, ops, n));
                requests += n;
            }
            // Writes count as done once durable.
            if (c.type == UKRUN_BLOCK_T_WRITE)
                expect_ok(guest, "flush", ukrun_block_flush(dev));
            const uint64_t elapsed = ukrun_monotonic_ns() - start;
            const uint64_t bytes = requests * size;
            printf("bench %s %zu", c.name, size);
            // bytes/ns * 1000 = MB/s (10^6 bytes); requests/ns * 10^9 = IOPS.
            print_fixed("MBps", bytes * 1000, elapsed);
            printf(" iops=%llu requests=%llu ns=%llu\n",
                   static_cast<unsigned long long>(elapsed == 0 ? 0 : requests * 1'000'000'000ull / elapsed),
                   static_cast<unsigned long long>(requests), static_cast<unsigned long long>(elapsed));
        }
    }
    printf("%s: done\n", guest);
    return 0;
}
