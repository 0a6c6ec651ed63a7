// Hostile input: truncated, corrupted and inconsistent frames are dropped, counted and never overread.
#include <catch2/catch.hpp>

#include <memory>
#include <random>

#include "net_harness.hpp"

using namespace net_test;

namespace {

constexpr uint16_t kTcpPort = 80;
constexpr uint16_t kUdpPort = 7;

// Valid frames from a to b, captured off the wire; b listens on TCP 80 and UDP 7.
struct Captured {
    Network net;
    TcpListener listener;
    UdpSocket socket;
    Frame arp;
    Frame icmp;
    Frame udp;
    Frame tcp_syn;

    Captured()
    {
        REQUIRE(net.b.stack.tcp_listen(kTcpPort, 8, listener) == Error::None);
        REQUIRE(net.b.stack.udp_bind(kUdpPort, socket) == Error::None);
        const Frame payload = pattern(32, 1);
        REQUIRE(net.a.stack.ping(net.b.address, 1, 1, payload.data(), payload.size()) == Error::None);
        arp = net.a.link.queue.front();
        net.pump();
        icmp = take_one([&] { net.a.stack.ping(net.b.address, 1, 2, payload.data(), payload.size()); });
        UdpSocket client;
        REQUIRE(net.a.stack.udp_bind(0, client) == Error::None);
        udp = take_one([&] { client.send_to({net.b.address, kUdpPort}, payload.data(), 20); });
        TcpConnection c;
        tcp_syn = take_one([&] { net.a.stack.tcp_connect({net.b.address, kTcpPort}, c); });
        c.abort();
        REQUIRE(is_arp(arp));
        REQUIRE(ip_protocol(icmp) == 1);
        REQUIRE(ip_protocol(udp) == 17);
        REQUIRE(is_tcp(tcp_syn));
        REQUIRE(tcp_flags(tcp_syn) == 0x02);
        REQUIRE(tcp_syn[kL4 + 12] >> 4 == 6); // with the MSS option
    }

    template <typename F> Frame take_one(F send)
    {
        send();
        REQUIRE(net.a.link.queue.size() == 1);
        Frame f = net.a.link.queue.front();
        net.a.link.queue.clear();
        return f;
    }

    // Feeds a frame to b from an allocation of exactly its size (so ASan sees any overread)
    // and reports whether b dropped it: one more drop counted and nothing sent back.
    bool dropped(const Frame& frame, size_t len)
    {
        auto copy = std::make_unique<uint8_t[]>(len == 0 ? 1 : len);
        if (len != 0)
            std::memcpy(copy.get(), frame.data(), len);
        const uint64_t before = net.b.stack.stats().dropped();
        const size_t sent = net.b.link.sent;
        net.b.stack.receive_frame(copy.get(), len);
        net.b.link.queue.clear();
        return net.b.stack.stats().dropped() == before + 1 && net.b.link.sent == sent;
    }
    bool dropped(const Frame& frame) { return dropped(frame, frame.size()); }
    bool accepted(const Frame& frame)
    {
        const uint64_t before = net.b.stack.stats().dropped();
        net.b.stack.receive_frame(frame.data(), frame.size());
        return net.b.stack.stats().dropped() == before;
    }
    const NetStats& stats() const { return net.b.stack.stats(); }
};

size_t ip_end(const Frame& f) { return kIp + get16(f, kIp + 2); }

// Shortens the IP packet to an L4 length of l4_len, keeping the IP header consistent.
Frame cut_l4(const Frame& f, size_t l4_len)
{
    Frame cut(f.begin(), f.begin() + static_cast<long>(kL4 + l4_len));
    put16(cut, kIp + 2, static_cast<uint16_t>(20 + l4_len));
    fix_ip_checksum(cut);
    return cut;
}

} // namespace

TEST_CASE("the captured frames are accepted as they are")
{
    Captured c;
    CHECK(c.accepted(c.arp));
    CHECK(c.accepted(c.icmp));
    CHECK(c.accepted(c.udp));
    CHECK(c.accepted(c.tcp_syn));
    CHECK(c.stats().dropped() == 0);
}

TEST_CASE("a frame truncated at any length is dropped")
{
    Captured c;
    for (const Frame* frame : {&c.arp, &c.icmp, &c.udp, &c.tcp_syn}) {
        // Bytes past the IP packet (or the ARP body) are Ethernet padding and may go.
        const size_t meaningful = is_arp(*frame) ? kEth + 28 : ip_end(*frame);
        for (size_t len = 0; len < meaningful; ++len) {
            INFO("ether type " << ether_type(*frame) << ", length " << len);
            CHECK(c.dropped(*frame, len));
        }
    }
    CHECK(c.stats().eth_malformed == 4 * kEth);
    CHECK(c.stats().arp_malformed == 28);
    CHECK(c.stats().ip_malformed == 3 * 20 + (c.icmp.size() - kL4) + (c.udp.size() - kL4) + 24);
}

TEST_CASE("an L4 header cut short inside a consistent IP packet is dropped")
{
    Captured c;
    for (size_t len = 0; len < 8; ++len) {
        CHECK(c.dropped(cut_l4(c.icmp, len)));
        CHECK(c.dropped(cut_l4(c.udp, len)));
    }
    for (size_t len = 0; len < 24; ++len)
        CHECK(c.dropped(cut_l4(c.tcp_syn, len)));
    CHECK(c.stats().icmp_malformed == 8);
    CHECK(c.stats().udp_malformed == 8);
    CHECK(c.stats().tcp_malformed == 24);
    // UDP cut inside its payload: its length field now overruns the packet.
    for (size_t len = 8; len < 28; ++len)
        CHECK(c.dropped(cut_l4(c.udp, len)));
    CHECK(c.stats().udp_malformed == 8 + 20);
}

TEST_CASE("every single-bit error in the IP header or above is caught")
{
    Captured c;
    for (const Frame* frame : {&c.icmp, &c.udp, &c.tcp_syn}) {
        for (size_t at = kIp; at < ip_end(*frame); ++at) {
            for (int bit = 0; bit < 8; ++bit) {
                Frame bad = *frame;
                bad[at] ^= static_cast<uint8_t>(1 << bit);
                // A UDP checksum that flips to zero means "none": not an error to catch.
                if (ip_protocol(*frame) == 17 && (at == kL4 + 6 || at == kL4 + 7) && get16(bad, kL4 + 6) == 0)
                    continue;
                INFO("protocol " << int(ip_protocol(*frame)) << ", byte " << at << ", bit " << bit);
                CHECK(c.dropped(bad));
            }
        }
    }
    CHECK(c.stats().ip_checksum > 0);
    CHECK(c.stats().icmp_checksum > 0);
    CHECK(c.stats().udp_checksum > 0);
    CHECK(c.stats().tcp_checksum > 0);
}

TEST_CASE("bad IPv4 headers are dropped and counted")
{
    Captured c;
    auto edited = [&](auto edit) {
        Frame f = c.udp;
        edit(f);
        fix_ip_checksum(f);
        return f;
    };
    CHECK(c.dropped(edited([](Frame& f) { f[kIp] = 0x44; }))); // IHL 4
    CHECK(c.dropped(edited([](Frame& f) { f[kIp] = 0x40; }))); // IHL 0
    CHECK(c.dropped(edited([](Frame& f) { f[kIp] = 0x4f; }))); // IHL 15 > total length
    CHECK(c.dropped(edited([](Frame& f) { f[kIp] = 0x65; }))); // version 6
    CHECK(c.dropped(edited([](Frame& f) { put16(f, kIp + 2, 19); })));
    CHECK(c.dropped(edited([](Frame& f) { put16(f, kIp + 2, static_cast<uint16_t>(f.size() - kEth + 1)); })));
    CHECK(c.dropped(edited([](Frame& f) { put16(f, kIp + 12, 0xffff), put16(f, kIp + 14, 0xffff); })));
    CHECK(c.stats().ip_malformed == 7);
    CHECK(c.dropped(edited([](Frame& f) { f[kIp + 6] |= 0x20; })));      // more fragments
    CHECK(c.dropped(edited([](Frame& f) { put16(f, kIp + 6, 0x0010); }))); // a later fragment
    CHECK(c.stats().ip_fragment == 2);
    CHECK(c.dropped(edited([](Frame& f) { f[kIp + 19] = 77; })));
    CHECK(c.stats().ip_not_for_us == 1);
    CHECK(c.dropped(edited([](Frame& f) { f[kIp + 9] = 50; })));
    CHECK(c.stats().ip_unknown_protocol == 1);

    // IP options are skipped; trailing bytes past the UDP length are ignored.
    Frame with_options(c.udp.begin(), c.udp.begin() + kL4);
    with_options.insert(with_options.end(), {1, 1, 1, 0});
    with_options.insert(with_options.end(), c.udp.begin() + kL4, c.udp.begin() + static_cast<long>(ip_end(c.udp)));
    with_options[kIp] = 0x46;
    put16(with_options, kIp + 2, static_cast<uint16_t>(get16(c.udp, kIp + 2) + 4));
    fix_ip_checksum(with_options);
    CHECK(c.accepted(with_options));
    Frame trailing = edited([](Frame& f) {
        f.insert(f.begin() + static_cast<long>(ip_end(f)), {9, 9, 9, 9});
        put16(f, kIp + 2, static_cast<uint16_t>(get16(f, kIp + 2) + 4));
    });
    CHECK(c.accepted(trailing));
    char buffer[64];
    CHECK(c.socket.receive_from(buffer, sizeof buffer, nullptr).bytes == 20);
    CHECK(c.socket.receive_from(buffer, sizeof buffer, nullptr).bytes == 20);
}

TEST_CASE("bad UDP lengths are dropped")
{
    Captured c;
    Frame f = c.udp;
    put16(f, kL4 + 4, 7);
    CHECK(c.dropped(f));
    put16(f, kL4 + 4, static_cast<uint16_t>(get16(c.udp, kIp + 2) - 20 + 1));
    CHECK(c.dropped(f));
    CHECK(c.stats().udp_malformed == 2);
    f = c.udp;
    put16(f, kL4 + 6, 0); // no checksum at all is allowed
    CHECK(c.accepted(f));
}

TEST_CASE("bad TCP data offsets and options are dropped")
{
    Captured c;
    auto with_options = [&](std::initializer_list<uint8_t> options) {
        Frame f = c.tcp_syn;
        std::copy(options.begin(), options.end(), f.begin() + kL4 + 20);
        fix_l4_checksum(f);
        return f;
    };
    auto with_offset = [&](uint8_t words) {
        Frame f = c.tcp_syn;
        f[kL4 + 12] = static_cast<uint8_t>(words << 4);
        fix_l4_checksum(f);
        return f;
    };
    CHECK(c.dropped(with_offset(4)));
    CHECK(c.dropped(with_offset(0)));
    CHECK(c.dropped(with_offset(7))); // 28 bytes of header in a 24-byte segment
    CHECK(c.dropped(with_offset(15)));
    CHECK(c.dropped(with_options({1, 1, 1, 2})));    // a kind with no length byte
    CHECK(c.dropped(with_options({2, 8, 5, 0xb4})));  // runs past the header
    CHECK(c.dropped(with_options({1, 3, 5, 0})));     // NOP, then kind 3 running past
    CHECK(c.dropped(with_options({2, 3, 5, 0})));     // MSS of the wrong size
    CHECK(c.dropped(with_options({8, 1, 0, 0})));     // a length below 2
    CHECK(c.dropped(with_options({8, 0, 0, 0})));     // a length of 0 would loop forever
    Frame syn_fin = c.tcp_syn;
    syn_fin[kL4 + 13] |= 0x01;
    fix_l4_checksum(syn_fin);
    CHECK(c.dropped(syn_fin));
    Frame no_port = c.tcp_syn;
    put16(no_port, kL4, 0);
    fix_l4_checksum(no_port);
    CHECK(c.dropped(no_port));
    CHECK(c.stats().tcp_malformed == 12);
    // End of options, then anything; unknown options of a sane size are skipped.
    CHECK(c.accepted(with_options({0, 0xee, 0xee, 0xee})));
    CHECK(c.accepted(with_options({30, 4, 0, 0})));
}

TEST_CASE("bad ARP packets are dropped")
{
    Captured c;
    auto edited = [&](size_t at, uint8_t value) {
        Frame f = c.arp;
        f[kEth + at] = value;
        return f;
    };
    CHECK(c.dropped(edited(1, 6)));    // hardware type 6
    CHECK(c.dropped(edited(2, 0x86))); // protocol type 0x8600
    CHECK(c.dropped(edited(4, 8)));    // hardware size
    CHECK(c.dropped(edited(5, 16)));   // protocol size
    CHECK(c.dropped(edited(7, 3)));    // opcode
    CHECK(c.dropped(edited(8, 0x01))); // multicast sender
    CHECK(c.stats().arp_malformed == 6);
}

TEST_CASE("Ethernet frames for others, of unknown types or oversized are dropped")
{
    Captured c;
    Frame f = c.icmp;
    f[5] ^= 1;
    CHECK(c.dropped(f));
    CHECK(c.stats().eth_not_for_us == 1);
    f = c.icmp;
    put16(f, 12, 0x86dd);
    CHECK(c.dropped(f));
    CHECK(c.stats().eth_unknown_type == 1);
    f = c.icmp;
    f.resize(kEth + 1501);
    CHECK(c.dropped(f));
    CHECK(c.stats().eth_malformed == 1);
}

TEST_CASE("random corruption never crashes the stack")
{
    Captured c;
    std::mt19937 random(12345);
    const Frame* frames[] = {&c.arp, &c.icmp, &c.udp, &c.tcp_syn};
    for (int i = 0; i < 50000; ++i) {
        Frame f = *frames[random() % 4];
        const int edits = 1 + static_cast<int>(random() % 4);
        for (int e = 0; e < edits; ++e)
            f[kEth + random() % (f.size() - kEth)] = static_cast<uint8_t>(random());
        if (random() % 2 && ether_type(f) == 0x0800 && f.size() >= kL4) {
            fix_ip_checksum(f); // reach the transport parsers too
            if (random() % 2 && (f[kIp] & 0x0f) == 5 && ip_end(f) <= f.size() && ip_end(f) >= kL4 + 8)
                fix_l4_checksum(f);
        }
        if (random() % 4 == 0)
            f.resize(random() % (f.size() + 1));
        c.dropped(f);
        c.net.pump();
    }
    c.net.advance(300 * kSec);
    SUCCEED("no crash");
}
