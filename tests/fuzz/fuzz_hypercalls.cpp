// libFuzzer target: a sequence of port I/O exits against guest RAM, through the hypercall dispatcher and a block device.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "block_device.hpp"
#include "errors.hpp"
#include "fuzz_guest.hpp"
#include "hypercalls.hpp"

using namespace ukrun;
using namespace ukrun::fuzz;

namespace {

// Stands in for the run loop's DeviceHost: device 0 is a block device whose queue lives in
// the fuzzed RAM, so a notify reaches real ring and request handling.
class FakeHost final : public HypercallHost {
public:
    FakeHost(const GuestMemory& memory, BlockDevice& block) : memory_(memory), block_(block) {}

    void reset()
    {
        std::vector<Virtqueue> queues;
        queues.emplace_back(memory_, place_queue(kRingsBase, kHypercallQueueSize), "fuzz block queue");
        block_.attach(memory_, std::move(queues));
    }

    PollResult poll(uint64_t) override { return {1, 0}; }

    void notify(uint32_t device, uint32_t queue) override
    {
        if (device != 0)
            throw GuestViolation(fmt::format("notify hypercall for device {}: the unikernel has 1 device(s)", device));
        block_.notify(queue);
    }

private:
    const GuestMemory& memory_;
    BlockDevice& block_;
};

struct Fixture {
    GuardedRam ram{kSmallRam};
    GuestMemory memory{ram.base(), ram.size()};
    ScratchImage image{kSmallRam};
    std::unique_ptr<BlockDevice> block;
    std::unique_ptr<FakeHost> host;
    int console = -1;
    std::vector<std::byte> before = std::vector<std::byte>(kSmallRam);
};

Fixture* fixture = nullptr;

// Bytes of guest RAM a handler may have changed: [from, from + len).
bool unchanged_except(const Fixture& f, uint64_t from, uint64_t len)
{
    const std::byte* now = f.ram.base();
    const uint64_t end = std::min(from + len, kSmallRam);
    from = std::min(from, kSmallRam);
    return std::memcmp(now, f.before.data(), from) == 0 &&
           std::memcmp(now + end, f.before.data() + end, kSmallRam - end) == 0;
}

bool printable_line(const std::string& s)
{
    for (char c : s)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            return false;
    return true;
}

// One exit, checked: what it may write, and what it may return.
bool run_exit(Fixture& f, Hypercalls& hypercalls, const HypercallExit& exit)
{
    const bool is_out = exit.size_and_direction & 0x80;
    const auto size = static_cast<uint8_t>(exit.size_and_direction & 0x7f);
    const uint32_t number = static_cast<uint32_t>(exit.port) - UKRUN_HC_PORT_BASE;
    std::memcpy(f.before.data(), f.ram.base(), kSmallRam);
    HypercallAction action;
    try {
        action = hypercalls.handle(exit.port, is_out, size, exit.value);
    } catch (const GuestViolation&) {
        // A rejected hypercall changes nothing, except the requests a notify served
        // before its ring turned out corrupt.
        UKRUN_FUZZ_CHECK(number == UKRUN_HC_NOTIFY || unchanged_except(f, 0, 0));
        return false;
    }
    UKRUN_FUZZ_CHECK(exit.port >= UKRUN_HC_PORT_BASE && number < UKRUN_HC_PORT_COUNT && is_out && size == 4);
    switch (number) {
    case UKRUN_HC_WALL_CLOCK:
        UKRUN_FUZZ_CHECK(unchanged_except(f, exit.value, sizeof(ukrun_hc_wall_clock)));
        break;
    case UKRUN_HC_POLL: {
        UKRUN_FUZZ_CHECK(unchanged_except(f, exit.value + offsetof(ukrun_hc_poll, ready),
                                          sizeof(ukrun_hc_poll) - offsetof(ukrun_hc_poll, ready)));
        const auto result = f.memory.read<ukrun_hc_poll>({exit.value});
        UKRUN_FUZZ_CHECK(result.ready == 1 && result.events == 0 && result.reserved == 0);
        break;
    }
    case UKRUN_HC_NOTIFY:
        break;
    default:
        UKRUN_FUZZ_CHECK(unchanged_except(f, 0, 0));
    }
    if (const auto* exited = std::get_if<GuestExited>(&action)) {
        UKRUN_FUZZ_CHECK(number == UKRUN_HC_EXIT && exited->status >= 0 &&
                         exited->status <= static_cast<int>(UKRUN_EXIT_STATUS_MAX));
        // abi.h: reserved must be 0, as poll already enforces for its own; accepting other
        // values would stop the field from ever gaining a meaning.
        UKRUN_FUZZ_CHECK(f.memory.read<ukrun_hc_exit>({exit.value}).reserved == 0);
        return false;
    }
    if (const auto* aborted = std::get_if<GuestAborted>(&action)) {
        // The message becomes one line of the diagnosis: bounded and printable.
        UKRUN_FUZZ_CHECK(number == UKRUN_HC_ABORT && printable_line(aborted->message));
        UKRUN_FUZZ_CHECK(aborted->message.size() <= UKRUN_ABORT_MESSAGE_MAX + 64);
        return false;
    }
    UKRUN_FUZZ_CHECK(number != UKRUN_HC_EXIT && number != UKRUN_HC_ABORT);
    return true;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    fixture = new Fixture;
    fixture->console = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fixture->console < 0)
        std::abort();
    fixture->block = std::make_unique<BlockDevice>("storage", BlockBacking{fixture->image.path(), false, 512});
    fixture->host = std::make_unique<FakeHost>(fixture->memory, *fixture->block);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 1)
        return -1;
    const auto count = std::min<std::size_t>(data[0] % (kMaxExits + 1), (size - 1) / sizeof(HypercallExit));
    std::vector<HypercallExit> exits(count);
    if (count != 0)
        std::memcpy(exits.data(), data + 1, count * sizeof(HypercallExit));
    const std::size_t image_at = 1 + count * sizeof(HypercallExit);
    Fixture& f = *fixture;
    f.ram.load(kSmallRam, 0, std::span(data + image_at, size - image_at));
    f.image.fill(f.ram.base());
    f.host->reset();

    // Like the run loop: exits until the guest leaves or breaks the ABI.
    Hypercalls hypercalls(f.memory, *f.host, f.console);
    for (const auto& exit : exits)
        if (!run_exit(f, hypercalls, exit))
            break;
    return 0;
}
