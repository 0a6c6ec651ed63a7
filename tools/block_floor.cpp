// block-floor: the host's own pread/pwrite on a disk image with blk_bench's request sizes and pattern, a throughput floor.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

namespace {

// The guest's cases and pattern (tests/guests/blk_bench.cpp), so both sides move the same
// bytes to the same offsets in the same order.
struct Case {
    const char* name;
    bool write;
    bool random;
};
constexpr Case kCases[] = {
    {"seq-write", true, false},
    {"seq-read", false, false},
    {"rand-write", true, true},
    {"rand-read", false, true},
};
constexpr std::size_t kSizes[] = {4096, 65536};
constexpr uint64_t kRandomSeed = 0x2545f4914f6cdd1dull;

uint64_t xorshift(uint64_t& state)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

[[noreturn]] void fail(const std::string& what)
{
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

// One request at a time (queue depth 1): the least the monitor's device does per request,
// which serves the guest's batches one preadv/pwritev after another as well.
void transfer(int fd, bool write, std::byte* buffer, std::size_t size, off_t offset)
{
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = write ? ::pwrite(fd, buffer + done, size - done, offset + static_cast<off_t>(done))
                                : ::pread(fd, buffer + done, size - done, offset + static_cast<off_t>(done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail(fmt::format("{} at offset {}", write ? "pwrite" : "pread", offset));
        done += static_cast<std::size_t>(n);
    }
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"Sequential and random reads and writes of 4 KiB and 64 KiB on IMAGE with pread/pwrite at "
                 "queue depth 1, in blk_bench's order and line format.",
                 "block-floor"};
    std::string image;
    uint64_t region_mib = 64;
    app.add_option("IMAGE", image, "The disk image (it is overwritten)")->required();
    app.add_option("--region", region_mib, "MiB of the image to cover; 0 means all of it")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    try {
        const int fd = ::open(image.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0)
            fail(image);
        struct stat st{};
        if (::fstat(fd, &st) < 0)
            fail(image);
        const auto disk_bytes = static_cast<uint64_t>(st.st_size);
        const uint64_t region = region_mib == 0 || (region_mib << 20) > disk_bytes ? disk_bytes : region_mib << 20;
        if (region < kSizes[1])
            throw std::runtime_error(fmt::format("{}: needs at least 64 KiB", image));
        std::vector<std::byte> buffer(kSizes[1]);
        for (std::size_t i = 0; i < buffer.size(); ++i)
            buffer[i] = static_cast<std::byte>(i * 131 + 7);
        fmt::print("floor: {} MiB of {} MiB, queue depth 1, pread/pwrite\n", region >> 20, disk_bytes >> 20);

        for (const std::size_t size : kSizes) {
            const uint64_t slots = region / size;
            for (const Case& c : kCases) {
                uint64_t state = kRandomSeed;
                uint64_t next = 0;
                const auto start = std::chrono::steady_clock::now();
                for (uint64_t i = 0; i < slots; ++i) {
                    const uint64_t slot = c.random ? xorshift(state) % slots : next++;
                    transfer(fd, c.write, buffer.data(), size, static_cast<off_t>(slot * size));
                }
                // Writes count as done once durable, as in the guest.
                if (c.write && ::fdatasync(fd) < 0)
                    fail("fdatasync");
                const auto ns = static_cast<uint64_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
                        .count());
                const uint64_t bytes = slots * size;
                const uint64_t hundredths = ns == 0 ? 0 : bytes * 1000 * 100 / ns;
                fmt::print("bench {} {} MBps={}.{:02} iops={} requests={} ns={}\n", c.name, size, hundredths / 100,
                           hundredths % 100, ns == 0 ? 0 : slots * 1'000'000'000ull / ns, slots, ns);
            }
        }
        ::close(fd);
    } catch (const std::exception& e) {
        fmt::print(stderr, "block-floor: {}\n", e.what());
        return 1;
    }
    return 0;
}
