// libFuzzer target: a guest-written ring drained as a notify drains it, checked against an independent model of the rules.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "block_device.hpp"
#include "errors.hpp"
#include "fuzz_guest.hpp"
#include "net_device.hpp"
#include "virtqueue.hpp"

using namespace ukrun;
using namespace ukrun::fuzz;

namespace {

constexpr uint64_t kImageBytes = kSmallRam; // 128 sectors of 512

struct Fixture {
    GuardedRam small{kSmallRam};
    GuardedRam large{kLargeRam};
    GuestMemory small_memory{small.base(), small.size()};
    GuestMemory large_memory{large.base(), large.size()};
    ScratchImage rw_image{kImageBytes};
    ScratchImage ro_image{kImageBytes};
    std::unique_ptr<BlockDevice> rw_block;
    std::unique_ptr<BlockDevice> ro_block;
    // A TAP in a private network namespace: the real NetDevice, with nothing on the other
    // side but the frames the harness injects. Absent without /dev/net/tun or CAP_NET_ADMIN.
    std::unique_ptr<NetDevice> net;
    int tap_reader = -1; // a second fd on the TAP, to empty it between runs
    int packet_socket = -1;
    int tap_index = 0;
};

Fixture* fixture = nullptr;

void set_up_net(Fixture& f)
{
    if (::unshare(CLONE_NEWNET) != 0)
        return;
    // No IPv6 on the TAP: router and neighbour solicitations would reach the guest at
    // times the input does not decide, and a crash must reproduce.
    std::ofstream("/proc/sys/net/ipv6/conf/default/disable_ipv6") << "1";
    UniqueFd tap(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
    if (!tap.valid())
        return;
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::strcpy(ifr.ifr_name, "fuzz0");
    if (::ioctl(tap.get(), TUNSETIFF, &ifr) != 0)
        return;
    const int sock = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    ifreq up{};
    std::strcpy(up.ifr_name, "fuzz0");
    if (sock < 0 || ::ioctl(sock, SIOCGIFINDEX, &up) != 0)
        return;
    f.tap_index = up.ifr_ifindex;
    up.ifr_flags = IFF_UP;
    if (::ioctl(sock, SIOCSIFFLAGS, &up) != 0)
        return;
    f.packet_socket = sock;
    f.tap_reader = ::dup(tap.get());
    NetBacking backing;
    backing.fd = tap.release();
    f.net = std::make_unique<NetDevice>("net", backing);
}

void drain_tap(const Fixture& f)
{
    std::byte frame[65536];
    while (::read(f.tap_reader, frame, sizeof(frame)) > 0) {
    }
}

// ---- The reference model ---------------------------------------------------------------
// Written from the rules in virtqueue.hpp, not from virtqueue.cpp, so that the two disagree
// when either one is wrong.

struct ModelEmpty {};
struct ModelViolation {};
using ModelPop = std::variant<ModelEmpty, ModelViolation, DescriptorChain>;

ModelPop model_pop(const GuestMemory& memory, const QueueGeometry& g, uint16_t next_avail)
{
    const auto avail = memory.read<uint16_t>({g.avail.value + 2});
    const auto pending = static_cast<uint16_t>(avail - next_avail);
    if (pending == 0)
        return ModelEmpty{};
    if (pending > g.size)
        return ModelViolation{};
    const auto head = memory.read<uint16_t>({g.avail.value + 4 + 2ull * (next_avail % g.size)});
    if (head >= g.size)
        return ModelViolation{};
    DescriptorChain chain;
    chain.head = head;
    uint16_t index = head;
    for (unsigned seen = 1;; ++seen) {
        if (seen > g.size)
            return ModelViolation{};
        const auto d = memory.read<ukrun_vring_desc>({g.desc.value + 16ull * index});
        if ((d.flags & ~(UKRUN_VRING_DESC_F_NEXT | UKRUN_VRING_DESC_F_WRITE)) != 0)
            return ModelViolation{};
        if (!memory.contains({d.addr}, d.len))
            return ModelViolation{};
        if (d.flags & UKRUN_VRING_DESC_F_WRITE) {
            chain.writable.push_back({{d.addr}, d.len});
            chain.writable_bytes += d.len;
        } else {
            if (!chain.writable.empty())
                return ModelViolation{};
            chain.readable.push_back({{d.addr}, d.len});
            chain.readable_bytes += d.len;
        }
        if (chain.readable_bytes + chain.writable_bytes > UINT32_MAX)
            return ModelViolation{};
        if (!(d.flags & UKRUN_VRING_DESC_F_NEXT))
            return chain;
        if (d.next >= g.size)
            return ModelViolation{};
        index = d.next;
    }
}

bool same_buffers(const std::vector<GuestBuffer>& a, const std::vector<GuestBuffer>& b)
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].addr != b[i].addr || a[i].len != b[i].len)
            return false;
    return true;
}

// ---- Invariants of one popped chain and of what parse_block_request makes of it -------

void check_chain(const GuestMemory& memory, const DescriptorChain& chain, uint16_t size)
{
    UKRUN_FUZZ_CHECK(chain.head < size);
    UKRUN_FUZZ_CHECK(!chain.readable.empty() || !chain.writable.empty());
    UKRUN_FUZZ_CHECK(chain.readable.size() + chain.writable.size() <= size);
    uint64_t readable = 0, writable = 0;
    for (const auto& b : chain.readable) {
        UKRUN_FUZZ_CHECK(memory.contains(b.addr, b.len));
        readable += b.len;
    }
    for (const auto& b : chain.writable) {
        UKRUN_FUZZ_CHECK(memory.contains(b.addr, b.len));
        writable += b.len;
    }
    UKRUN_FUZZ_CHECK(readable == chain.readable_bytes && writable == chain.writable_bytes);
    UKRUN_FUZZ_CHECK(readable + writable <= UINT32_MAX);
}

// True when [addr, addr + len) lies inside one of `buffers`.
bool inside_one_of(const std::vector<GuestBuffer>& buffers, GuestAddr addr, uint64_t len)
{
    for (const auto& b : buffers)
        if (addr.value >= b.addr.value && addr.value - b.addr.value <= b.len && len <= b.len - (addr.value - b.addr.value))
            return true;
    return false;
}

// Reads what a transfer would touch: every byte on the small RAM (so ASan and the guards
// see it), the ends of each buffer on the 4 GiB one (touching gigabytes would stall the run).
uint8_t touch(const GuestMemory& memory, const std::vector<GuestBuffer>& buffers, bool whole)
{
    uint8_t sum = 0;
    for (const auto& b : buffers) {
        if (b.len == 0)
            continue;
        const auto bytes = memory.slice(b.addr, b.len);
        if (whole) {
            for (std::byte x : bytes)
                sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(x));
        } else {
            sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(bytes.front()) + static_cast<uint8_t>(bytes.back()));
        }
    }
    return sum;
}

uint32_t check_block_parse(const GuestMemory& memory, const DescriptorChain& chain, const BlockGeometry& geometry,
                           bool whole)
{
    const auto parsed = parse_block_request(chain, memory, geometry);
    if (const auto* refusal = std::get_if<BlockRefusal>(&parsed)) {
        UKRUN_FUZZ_CHECK(refusal->status_byte.has_value() == (chain.writable_bytes != 0));
        if (refusal->status_byte) {
            UKRUN_FUZZ_CHECK(refusal->status_byte->len == 1);
            UKRUN_FUZZ_CHECK(inside_one_of(chain.writable, refusal->status_byte->addr, 1));
        }
        return refusal->status_byte ? 1 : 0;
    }
    const auto& request = std::get<BlockRequest>(parsed);
    UKRUN_FUZZ_CHECK(request.status.len == 1 && inside_one_of(chain.writable, request.status.addr, 1));
    uint64_t data = 0;
    const auto& source = request.type == UKRUN_BLOCK_T_READ ? chain.writable : chain.readable;
    for (const auto& b : request.data) {
        UKRUN_FUZZ_CHECK(b.len != 0 && inside_one_of(source, b.addr, b.len));
        data += b.len;
    }
    UKRUN_FUZZ_CHECK(data == request.data_bytes);
    switch (request.type) {
    case UKRUN_BLOCK_T_READ:
        UKRUN_FUZZ_CHECK(chain.readable_bytes == sizeof(ukrun_block_request_header));
        UKRUN_FUZZ_CHECK(request.data_bytes + 1 == chain.writable_bytes);
        break;
    case UKRUN_BLOCK_T_WRITE:
        UKRUN_FUZZ_CHECK(!geometry.readonly && chain.writable_bytes == 1);
        UKRUN_FUZZ_CHECK(request.data_bytes + sizeof(ukrun_block_request_header) == chain.readable_bytes);
        break;
    case UKRUN_BLOCK_T_FLUSH:
        UKRUN_FUZZ_CHECK(request.data.empty() && request.data_bytes == 0);
        return 1;
    default:
        UKRUN_FUZZ_CHECK(false && "parse_block_request accepted an unknown type");
    }
    UKRUN_FUZZ_CHECK(request.data_bytes > 0 && request.data_bytes <= kBlockMaxRequest);
    UKRUN_FUZZ_CHECK(request.data_bytes % geometry.sector_size == 0 && request.offset % geometry.sector_size == 0);
    const uint64_t device_bytes = geometry.capacity * geometry.sector_size; // capacity < 2^16, sector <= 2^16
    UKRUN_FUZZ_CHECK(request.offset < device_bytes && request.data_bytes <= device_bytes - request.offset);
    (void)touch(memory, request.data, whole);
    return static_cast<uint32_t>(request.type == UKRUN_BLOCK_T_READ ? request.data_bytes + 1 : 1);
}

// Drains the queue with no device writes into guest RAM besides the used ring, comparing
// every pop with the model. Ends like a VM ends: on the first GuestViolation.
void pure_drain(const GuestMemory& memory, const QueueGeometry& g, const BlockGeometry& block, bool whole)
{
    Virtqueue queue(memory, g, "fuzz queue");
    queue.suppress_notifications(true);
    UKRUN_FUZZ_CHECK(memory.read<uint16_t>(g.used) & UKRUN_VRING_USED_F_NO_NOTIFY);
    uint16_t next_avail = 0;
    unsigned popped = 0;
    for (;;) {
        const ModelPop expected = model_pop(memory, g, next_avail);
        std::optional<DescriptorChain> chain;
        try {
            chain = queue.pop();
        } catch (const GuestViolation&) {
            UKRUN_FUZZ_CHECK(std::holds_alternative<ModelViolation>(expected));
            return;
        }
        if (!chain) {
            UKRUN_FUZZ_CHECK(std::holds_alternative<ModelEmpty>(expected));
            break;
        }
        const auto* model = std::get_if<DescriptorChain>(&expected);
        UKRUN_FUZZ_CHECK(model != nullptr);
        UKRUN_FUZZ_CHECK(model->head == chain->head && same_buffers(model->readable, chain->readable) &&
                         same_buffers(model->writable, chain->writable));
        ++next_avail;
        // Only the used ring changes under a pure drain, so the guest could have posted at
        // most one queue's worth.
        UKRUN_FUZZ_CHECK(++popped <= g.size);
        check_chain(memory, *chain, g.size);
        const uint32_t written = check_block_parse(memory, *chain, block, whole);

        queue.push_used(chain->head, written);
        UKRUN_FUZZ_CHECK(memory.read<uint16_t>({g.used.value + 2}) == static_cast<uint16_t>(popped));
        const auto elem = memory.read<ukrun_vring_used_elem>({g.used.value + 4 + 8ull * ((popped - 1) % g.size)});
        UKRUN_FUZZ_CHECK(elem.id == chain->head && elem.len == written);
    }
    UKRUN_FUZZ_CHECK(!queue.has_available());
    queue.suppress_notifications(false);
    UKRUN_FUZZ_CHECK(!(memory.read<uint16_t>(g.used) & UKRUN_VRING_USED_F_NO_NOTIFY));
}

// The block device's own notify over a real (memory-backed) image.
void block_notify(Fixture& f, const QueueGeometry& g, bool readonly, bool twice)
{
    const ScratchImage& image = readonly ? f.ro_image : f.rw_image;
    BlockDevice& device = readonly ? *f.ro_block : *f.rw_block;
    // The image starts as the guest's RAM, so reads can copy crafted rings over the real ones.
    image.fill(f.small.base());
    std::vector<Virtqueue> queues;
    queues.emplace_back(f.small_memory, g, "fuzz block queue");
    device.attach(f.small_memory, std::move(queues));
    try {
        device.notify(0);
        if (twice)
            device.notify(0);
    } catch (const GuestViolation&) {
    }
    // Requests are bounded by the capacity: a write past it would grow the image.
    UKRUN_FUZZ_CHECK(image.current_size() == kImageBytes);
}

// The net device's own transmit, then receive of frames the harness sends through the TAP.
void net_run(Fixture& f, const QueueGeometry& rx_g, const QueueGeometry& tx_g, uint16_t frames_spec)
{
    drain_tap(f);
    std::vector<Virtqueue> queues;
    queues.emplace_back(f.small_memory, rx_g, "fuzz rx queue");
    queues.emplace_back(f.small_memory, tx_g, "fuzz tx queue");
    f.net->attach(f.small_memory, std::move(queues));
    try {
        f.net->notify(kNetTxQueue);
        // Frame bytes come from guest RAM, lengths from the input: up to three frames of 14..1514 bytes.
        const unsigned frames = frames_spec % 4;
        for (unsigned i = 0; i < frames; ++i) {
            const std::size_t len = kMinFrame + ((frames_spec >> 2) * (i + 1) * 97u) % 1501u;
            sockaddr_ll to{};
            to.sll_family = AF_PACKET;
            to.sll_ifindex = f.tap_index;
            to.sll_halen = 6;
            ::sendto(f.packet_socket, f.small.base() + 0x8000 + i * 0x800, len, 0,
                     reinterpret_cast<const sockaddr*>(&to), sizeof(to));
        }
        if (frames != 0)
            f.net->notify(kNetRxQueue);
        f.net->deliver();
    } catch (const GuestViolation&) {
    }
    drain_tap(f);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    fixture = new Fixture;
    BlockBacking rw{fixture->rw_image.path(), false, 512};
    BlockBacking ro{fixture->ro_image.path(), true, 512};
    fixture->rw_block = std::make_unique<BlockDevice>("rw", rw);
    fixture->ro_block = std::make_unique<BlockDevice>("ro", ro);
    set_up_net(*fixture);
    if (!fixture->net)
        std::fprintf(stderr, "fuzz_virtqueue: no TAP (needs /dev/net/tun and CAP_NET_ADMIN); net runs drain purely\n");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    VirtqueueInputHeader header{};
    if (size < sizeof(header))
        return -1;
    std::memcpy(&header, data, sizeof(header));
    const std::span<const uint8_t> image(data + sizeof(header), size - sizeof(header));
    const auto queue_size = static_cast<uint16_t>(1u << ((header.config & 0xf) % 9));
    const auto mode = static_cast<VirtqueueMode>((header.config >> 4) & 3);
    const bool readonly = header.config & 0x40;
    const bool twice = header.config & 0x80;
    Fixture& f = *fixture;

    uint64_t next_page = 0;
    const QueueGeometry first = place_queue(kRingsBase, queue_size, &next_page);
    const BlockGeometry parse_geometry{header.capacity, 512u << (header.sector_log % 8), readonly};
    switch (mode) {
    case VirtqueueMode::Pure:
        f.small.load(kSmallRam, kRingsBase, image);
        pure_drain(f.small_memory, first, parse_geometry, true);
        break;
    case VirtqueueMode::PureLargeRam:
        f.large.load(kSmallRam, kRingsBase, image);
        pure_drain(f.large_memory, first, parse_geometry, false);
        break;
    case VirtqueueMode::Block:
        f.small.load(kSmallRam, kRingsBase, image);
        block_notify(f, first, readonly, twice);
        break;
    case VirtqueueMode::Net: {
        f.small.load(kSmallRam, kRingsBase, image);
        const QueueGeometry second = place_queue(next_page, queue_size);
        if (f.net)
            net_run(f, first, second, header.capacity);
        else
            pure_drain(f.small_memory, second, parse_geometry, true);
        break;
    }
    }
    return 0;
}
