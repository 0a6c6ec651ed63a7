// Guest RAM, ring placement, scratch block images and input layouts shared by the ring and hypercall fuzz targets.
#pragma once

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "guest_memory.hpp"
#include "virtqueue.hpp"

namespace ukrun::fuzz {

// Checks an invariant in every build type: a fuzz target that only asserts in debug
// builds would report nothing from the optimised build it actually runs.
#define UKRUN_FUZZ_CHECK(cond)                                                                                   \
    do {                                                                                                         \
        if (!(cond)) {                                                                                           \
            std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);                  \
            std::abort();                                                                                        \
        }                                                                                                        \
    } while (0)

inline constexpr uint64_t kSmallRam = 64u << 10;
inline constexpr uint64_t kLargeRam = 4ull << 30; // the monitor's --mem ceiling
inline constexpr uint64_t kRingsBase = 0x1000;    // page aligned, like the monitor's rings_start

// Guest RAM between two inaccessible regions. The monitor's RAM is an mmap, which ASan
// does not track, so only the guards catch an access just outside it. Lazily backed, so
// the 4 GiB variant costs only the pages a run touches.
class GuardedRam {
public:
    explicit GuardedRam(uint64_t bytes) : bytes_(bytes)
    {
        void* addr = ::mmap(nullptr, bytes + 2 * kGuard, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (addr == MAP_FAILED || ::mprotect(static_cast<std::byte*>(addr) + kGuard, bytes, PROT_READ | PROT_WRITE) != 0)
            std::abort();
        base_ = static_cast<std::byte*>(addr) + kGuard;
    }
    GuardedRam(const GuardedRam&) = delete;
    GuardedRam& operator=(const GuardedRam&) = delete;

    std::byte* base() const noexcept { return base_; }
    uint64_t size() const noexcept { return bytes_; }

    // Zeroes the first `prefix` bytes and copies `image` to `at`; runs stay independent
    // because nothing outside the prefix is ever written.
    void load(uint64_t prefix, uint64_t at, std::span<const uint8_t> image) const
    {
        std::memset(base_, 0, prefix);
        const uint64_t n = std::min<uint64_t>(image.size(), prefix - at);
        if (n != 0)
            std::memcpy(base_ + at, image.data(), n);
    }

private:
    static constexpr uint64_t kGuard = 1u << 20;
    std::byte* base_;
    uint64_t bytes_;
};

constexpr uint64_t align_up(uint64_t value, uint64_t alignment)
{
    return (value + alignment - 1) / alignment * alignment;
}

// A queue placed exactly as DeviceSet places it: areas back to back, the next queue on
// the next page.
inline QueueGeometry place_queue(uint64_t base, uint16_t size, uint64_t* end = nullptr)
{
    QueueGeometry g;
    g.size = size;
    g.desc = {base};
    g.avail = {base + desc_table_bytes(size)};
    g.used = {align_up(g.avail.value + avail_ring_bytes(size), 4)};
    if (end != nullptr)
        *end = align_up(g.used.value + used_ring_bytes(size), 4096);
    return g;
}

// A memfd-backed block image reachable by path, so BlockDevice opens it as it opens any
// file; refilled before each run so that writes of one run cannot steer the next.
class ScratchImage {
public:
    explicit ScratchImage(uint64_t bytes) : bytes_(bytes)
    {
        fd_ = ::memfd_create("ukrun-fuzz-image", MFD_CLOEXEC);
        if (fd_ < 0 || ::ftruncate(fd_, static_cast<off_t>(bytes)) != 0)
            std::abort();
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }

    const std::string& path() const noexcept { return path_; }

    void fill(const std::byte* data) const
    {
        if (::pwrite(fd_, data, bytes_, 0) != static_cast<ssize_t>(bytes_))
            std::abort();
    }

    uint64_t current_size() const
    {
        struct stat st{};
        if (::fstat(fd_, &st) != 0)
            std::abort();
        return static_cast<uint64_t>(st.st_size);
    }

private:
    int fd_ = -1;
    uint64_t bytes_;
    std::string path_;
};

// fuzz_virtqueue input: a fixed header, then the RAM image loaded at kRingsBase.
struct VirtqueueInputHeader {
    uint8_t config;      // bits 0-3: queue size 1 << (n % 9); bits 4-5: mode; bit 6: read-only; bit 7: notify twice
    uint8_t sector_log;  // parse geometry: sector size 512 << (n % 8)
    uint16_t capacity;   // parse geometry: sectors; net mode: rx frame count and length
};
enum class VirtqueueMode : uint8_t { Pure = 0, Block = 1, Net = 2, PureLargeRam = 3 };

// fuzz_hypercalls input: an exit count, that many exits, then the RAM image loaded at 0.
struct HypercallExit {
    uint16_t port;
    uint8_t size_and_direction; // bits 0-6: access size; bit 7: out
    uint8_t unused;
    uint32_t value;
};
static_assert(sizeof(HypercallExit) == 8);
inline constexpr unsigned kMaxExits = 16;
// The one block device fuzz_hypercalls reaches through notify.
inline constexpr uint16_t kHypercallQueueSize = 16;

} // namespace ukrun::fuzz
