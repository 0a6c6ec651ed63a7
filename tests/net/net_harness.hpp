// Two network stacks joined by an in-memory Ethernet with a fake clock, plus frame surgery helpers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <stdexcept>
#include <vector>

#include <ukrun/net.h>

namespace net_test {

using namespace ukrun::net;
using Frame = std::vector<uint8_t>;

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kSec = 1000 * kMs;

inline uint64_t fake_now = 0;
inline uint64_t fake_clock() { return fake_now; }

// Queues what a stack transmits; a test can drop frames by index or by content.
class MemoryLink final : public NetLink {
public:
    bool send_frame(const uint8_t* frame, size_t len) override
    {
        ++sent;
        Frame copy(frame, frame + len);
        if (drop && drop(copy, sent)) {
            ++dropped;
            return true; // lost on the wire, not refused by the device
        }
        queue.push_back(std::move(copy));
        return true;
    }

    std::deque<Frame> queue;
    // Called with each frame and its 1-based index on this link; true drops it.
    std::function<bool(const Frame&, size_t)> drop;
    size_t sent = 0;
    size_t dropped = 0;
};

struct Peer {
    MemoryLink link;
    Stack stack;
    Ipv4Address address = 0;
    MacAddress mac{};
};

class Network {
public:
    explicit Network(uint16_t mtu = 1500)
    {
        fake_now = 1000 * kSec;
        setup(a, ipv4(10, 0, 0, 2), 2, mtu, 11);
        setup(b, ipv4(10, 0, 0, 3), 3, mtu, 22);
    }

    // Delivers queued frames, alternating directions, until both links are quiet.
    void pump()
    {
        for (size_t rounds = 0; rounds < 10000000; ++rounds) {
            if (a.link.queue.empty() && b.link.queue.empty())
                return;
            deliver(a, b);
            deliver(b, a);
        }
        throw std::runtime_error("the link never went quiet");
    }

    uint64_t next_deadline() const
    {
        const uint64_t x = a.stack.next_timer_deadline();
        const uint64_t y = b.stack.next_timer_deadline();
        return x < y ? x : y;
    }

    // Moves the fake clock forward by ns, running every timer that falls due on the way.
    void advance(uint64_t ns)
    {
        const uint64_t target = fake_now + ns;
        pump();
        for (;;) {
            const uint64_t next = next_deadline();
            if (next > target)
                break;
            if (next > fake_now)
                fake_now = next;
            a.stack.poll(fake_now);
            b.stack.poll(fake_now);
            pump();
        }
        fake_now = target;
    }

    // Pumps and advances in small steps until done() or the fake timeout passes.
    bool run_until(const std::function<bool()>& done, uint64_t timeout = 120 * kSec, uint64_t step = 10 * kMs)
    {
        const uint64_t end = fake_now + timeout;
        pump();
        while (!done()) {
            if (fake_now >= end)
                return false;
            advance(step);
        }
        return true;
    }

    Peer a;
    Peer b;

private:
    static void setup(Peer& peer, Ipv4Address address, uint8_t mac_last, uint16_t mtu, uint64_t seed)
    {
        peer.address = address;
        peer.mac = MacAddress{{0x02, 0x00, 0x00, 0x00, 0x00, mac_last}};
        StackConfig config;
        config.link = &peer.link;
        config.clock = fake_clock;
        config.mac = peer.mac;
        config.mtu = mtu;
        config.ipv4 = Ipv4Config{address, 24, ipv4(10, 0, 0, 1)};
        config.seed = seed;
        if (peer.stack.init(config) != Error::None)
            throw std::runtime_error("stack init failed");
    }

    static void deliver(Peer& from, Peer& to)
    {
        if (from.link.queue.empty())
            return;
        Frame frame = std::move(from.link.queue.front());
        from.link.queue.pop_front();
        to.stack.receive_frame(frame.data(), frame.size());
    }
};

// ---- Frame inspection and surgery (offsets assume a 20-byte IPv4 header) ----
constexpr size_t kEth = 14;
constexpr size_t kIp = kEth;
constexpr size_t kL4 = kEth + 20;

inline uint16_t get16(const Frame& f, size_t at) { return static_cast<uint16_t>((f[at] << 8) | f[at + 1]); }
inline void put16(Frame& f, size_t at, uint16_t v)
{
    f[at] = static_cast<uint8_t>(v >> 8);
    f[at + 1] = static_cast<uint8_t>(v);
}
inline uint32_t get32(const Frame& f, size_t at) { return (uint32_t{get16(f, at)} << 16) | get16(f, at + 2); }

inline uint16_t ether_type(const Frame& f) { return get16(f, 12); }
inline bool is_arp(const Frame& f) { return ether_type(f) == 0x0806; }
inline uint8_t ip_protocol(const Frame& f) { return ether_type(f) == 0x0800 ? f[kIp + 9] : 0; }
inline bool is_tcp(const Frame& f) { return ip_protocol(f) == 6; }
inline uint8_t tcp_flags(const Frame& f) { return f[kL4 + 13]; }
inline size_t tcp_payload_len(const Frame& f)
{
    return get16(f, kIp + 2) - 20 - static_cast<size_t>(f[kL4 + 12] >> 4) * 4;
}

inline uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}
inline uint32_t sum_words(const uint8_t* p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
    if (len & 1)
        sum += static_cast<uint32_t>(p[len - 1] << 8);
    return sum;
}

// Recomputes the IPv4 header checksum (after editing the header).
inline void fix_ip_checksum(Frame& f)
{
    const size_t ihl = std::min(static_cast<size_t>(f[kIp] & 0x0f) * 4, f.size() - kIp); // a bogus IHL may overrun
    put16(f, kIp + 10, 0);
    put16(f, kIp + 10, fold(sum_words(f.data() + kIp, ihl)));
}

// Recomputes the TCP, UDP or ICMP checksum of a frame with a 20-byte IP header.
inline void fix_l4_checksum(Frame& f)
{
    const size_t len = get16(f, kIp + 2) - 20;
    const uint8_t protocol = f[kIp + 9];
    const size_t at = protocol == 1 ? 2 : protocol == 17 ? 6 : 16;
    put16(f, kL4 + at, 0);
    uint32_t sum = sum_words(f.data() + kL4, len);
    if (protocol != 1)
        sum += sum_words(f.data() + kIp + 12, 8) + protocol + static_cast<uint32_t>(len);
    put16(f, kL4 + at, fold(sum));
}

inline Frame pattern(size_t len, uint32_t seed)
{
    Frame data(len);
    uint32_t x = seed * 2654435761u + 1;
    for (auto& byte : data) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        byte = static_cast<uint8_t>(x);
    }
    return data;
}

} // namespace net_test
