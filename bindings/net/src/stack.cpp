// The stack's front: Ethernet and IPv4 input, ICMP echo, transmission, timers and the public Stack calls.
#include <string.h>

#include "core.hpp"

namespace ukrun::net {

using namespace wire;
using detail::StackCore;

namespace detail {

uint32_t StackCore::random32()
{
    // xorshift32 seeded from the configuration and stirred by the clock: unpredictable enough
    // to keep sequence numbers of successive connections apart, not a security property.
    uint32_t x = isn_state ^ static_cast<uint32_t>(now() >> 10);
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    isn_state = x == 0 ? 0x9e3779b9u : x;
    return isn_state;
}

uint16_t StackCore::ephemeral_port(bool tcp)
{
    constexpr uint16_t first = 49152;
    constexpr uint16_t count = 16384;
    for (uint32_t attempt = 0; attempt < count; ++attempt) {
        const auto port = static_cast<uint16_t>(first + (next_ephemeral++ % count));
        bool taken = false;
        if (tcp) {
            for (const auto& tcb : tcbs)
                taken |= tcb.used && tcb.local_port == port;
            for (const auto& listener : listeners)
                taken |= listener.used && listener.port == port;
        } else {
            for (const auto& socket : udp)
                taken |= socket.used && socket.port == port;
        }
        if (!taken)
            return port;
    }
    return 0;
}

void StackCore::transmit(const MacAddress& destination, uint16_t ether_type, size_t payload_len)
{
    memcpy(frame, destination.bytes, 6);
    memcpy(frame + 6, config.mac.bytes, 6);
    store16(frame + 12, ether_type);
    size_t len = kEthHeader + payload_len;
    if (len < kEthMinFrame) {
        memset(frame + len, 0, kEthMinFrame - len);
        len = kEthMinFrame;
    }
    if (config.link->send_frame(frame, len))
        stats.frames_sent++;
    else
        stats.send_failures++;
}

Error StackCore::send_ipv4(Ipv4Address destination, uint8_t protocol, size_t payload_len)
{
    uint8_t* ip = frame + kEthHeader;
    const size_t total = kIpv4Header + payload_len;
    ip[0] = 0x45;
    ip[1] = 0;
    store16(ip + 2, static_cast<uint16_t>(total));
    store16(ip + 4, ip_id++);
    store16(ip + 6, 0x4000); // DF: this stack never fragments, so neither should the path
    ip[8] = kDefaultTtl;
    ip[9] = protocol;
    store16(ip + 10, 0);
    store32(ip + 12, config.ipv4.address);
    store32(ip + 16, destination);
    store16(ip + 10, checksum(ip, kIpv4Header));
    return arp_send_ipv4(*this, destination, total);
}

} // namespace detail

namespace {

void icmp_input(StackCore& core, Ipv4Address source, bool to_broadcast, const uint8_t* p, size_t len)
{
    if (len < kIcmpHeader) {
        core.stats.icmp_malformed++;
        return;
    }
    if (checksum(p, len) != 0) {
        core.stats.icmp_checksum++;
        return;
    }
    if (p[0] == kIcmpEchoRequest && p[1] == 0) {
        // Answering broadcast pings would make us an amplifier; Linux ignores them too.
        if (to_broadcast)
            return;
        uint8_t* reply = core.ip_payload();
        memcpy(reply, p, len);
        reply[0] = kIcmpEchoReply;
        store16(reply + 2, 0);
        store16(reply + 2, checksum(reply, len));
        core.send_ipv4(source, kProtocolIcmp, len);
    } else if (p[0] == kIcmpEchoReply && p[1] == 0) {
        if (core.echo_count == kEchoReplyQueue) { // keep the newest
            core.echo_head = (core.echo_head + 1) % kEchoReplyQueue;
            core.echo_count--;
        }
        EchoReply& reply = core.echo_replies[(core.echo_head + core.echo_count) % kEchoReplyQueue];
        reply.from = source;
        reply.id = load16(p + 4);
        reply.sequence = load16(p + 6);
        reply.payload_len = len - kIcmpHeader;
        reply.received_ns = core.now();
        core.echo_count++;
    }
    // Other ICMP messages (unreachable, time exceeded) are ignored: TCP learns by timing out.
}

void ipv4_input(StackCore& core, const uint8_t* p, size_t len)
{
    // Untrusted bytes: every length is checked against what the frame really holds.
    if (len < kIpv4Header || (p[0] >> 4) != 4) {
        core.stats.ip_malformed++;
        return;
    }
    const size_t header_len = size_t{p[0] & 0x0fu} * 4;
    const size_t total_len = load16(p + 2);
    if (header_len < kIpv4Header || header_len > len || total_len < header_len || total_len > len) {
        core.stats.ip_malformed++;
        return;
    }
    if (checksum(p, header_len) != 0) {
        core.stats.ip_checksum++;
        return;
    }
    // More-fragments set or a nonzero offset: part of a datagram we cannot reassemble.
    if ((load16(p + 6) & 0x3fff) != 0) {
        core.stats.ip_fragment++;
        return;
    }
    const Ipv4Address source = load32(p + 12);
    const Ipv4Address destination = load32(p + 16);
    if (core.is_broadcast(source) || (source >> 28) == 0xe) {
        core.stats.ip_malformed++;
        return;
    }
    const bool to_broadcast = core.is_broadcast(destination);
    if (destination != core.config.ipv4.address && !to_broadcast) {
        core.stats.ip_not_for_us++;
        return;
    }
    // Ethernet pads short frames: the payload ends at total_len, not at the frame's end.
    const uint8_t* payload = p + header_len;
    const size_t payload_len = total_len - header_len;
    switch (p[9]) {
    case kProtocolIcmp:
        icmp_input(core, source, to_broadcast, payload, payload_len);
        break;
    case kProtocolUdp:
        detail::udp_input(core, source, destination, payload, payload_len);
        break;
    case kProtocolTcp:
        if (to_broadcast) {
            core.stats.ip_not_for_us++;
            break;
        }
        detail::tcp_input(core, source, destination, payload, payload_len);
        break;
    default:
        core.stats.ip_unknown_protocol++;
        break;
    }
}

} // namespace

uint64_t NetStats::dropped() const
{
    return eth_malformed + eth_not_for_us + eth_unknown_type + arp_malformed + arp_queue_full +
           arp_unresolved + ip_malformed + ip_checksum + ip_fragment + ip_not_for_us +
           ip_unknown_protocol + ip_no_route + icmp_malformed + icmp_checksum + udp_malformed +
           udp_checksum + udp_no_socket + udp_queue_full + tcp_malformed + tcp_checksum +
           tcp_no_connection + tcp_out_of_order + tcp_backlog_full;
}

const char* error_name(Error error)
{
    switch (error) {
    case Error::None: return "none";
    case Error::WouldBlock: return "would block";
    case Error::EndOfStream: return "end of stream";
    case Error::InvalidArgument: return "invalid argument";
    case Error::AddressInUse: return "address in use";
    case Error::NoResources: return "no resources";
    case Error::Unreachable: return "unreachable";
    case Error::MessageTooLong: return "message too long";
    case Error::NotConnected: return "not connected";
    case Error::ConnectionRefused: return "connection refused";
    case Error::ConnectionReset: return "connection reset";
    case Error::TimedOut: return "timed out";
    }
    return "unknown error";
}

Stack::~Stack()
{
    delete core_; // the buffers go with their rings
}

Error Stack::init(const StackConfig& config)
{
    if (core_ != nullptr || config.link == nullptr || config.clock == nullptr)
        return Error::InvalidArgument;
    const Ipv4Config& ip = config.ipv4;
    if (ip.prefix_length < 1 || ip.prefix_length > 32 || ip.address == 0)
        return Error::InvalidArgument;
    auto* core = new (std::nothrow) StackCore;
    if (core == nullptr)
        return Error::NoResources;
    core->config = config;
    core->netmask = ip.prefix_length == 32 ? 0xffffffffu : ~(0xffffffffu >> ip.prefix_length);
    core->mtu = config.mtu < kMinMtu ? kMinMtu : (config.mtu > kMaxMtu ? kMaxMtu : config.mtu);
    core->isn_state = static_cast<uint32_t>(config.seed ^ (config.seed >> 32)) ^ ip.address ^ 0x6d2b79f5u;
    core->next_ephemeral = static_cast<uint16_t>(core->random32());
    core_ = core;
    return Error::None;
}

void Stack::receive_frame(const uint8_t* frame, size_t len)
{
    if (core_ == nullptr || frame == nullptr)
        return;
    StackCore& core = *core_;
    core.stats.frames_received++;
    if (len < kEthHeader || len > kEthHeader + core.mtu) {
        core.stats.eth_malformed++;
        return;
    }
    const bool broadcast = memcmp(frame, "\xff\xff\xff\xff\xff\xff", 6) == 0;
    if (!broadcast && memcmp(frame, core.config.mac.bytes, 6) != 0) {
        core.stats.eth_not_for_us++;
        return;
    }
    const uint8_t* payload = frame + kEthHeader;
    const size_t payload_len = len - kEthHeader;
    switch (load16(frame + 12)) {
    case kEtherTypeArp:
        detail::arp_input(core, payload, payload_len);
        break;
    case kEtherTypeIpv4:
        ipv4_input(core, payload, payload_len);
        break;
    default:
        core.stats.eth_unknown_type++;
        break;
    }
}

void Stack::poll(uint64_t now_ns)
{
    if (core_ == nullptr)
        return;
    detail::arp_timers(*core_, now_ns);
    detail::tcp_timers(*core_, now_ns);
}

uint64_t Stack::next_timer_deadline() const
{
    if (core_ == nullptr)
        return detail::kNever;
    const uint64_t arp = detail::arp_next_deadline(*core_);
    const uint64_t tcp = detail::tcp_next_deadline(*core_);
    return arp < tcp ? arp : tcp;
}

Error Stack::ping(Ipv4Address to, uint16_t id, uint16_t sequence, const void* payload, size_t len)
{
    if (core_ == nullptr)
        return Error::NotConnected;
    StackCore& core = *core_;
    if (len > core.max_ip_payload() - kIcmpHeader)
        return Error::MessageTooLong;
    if (to == 0 || (len != 0 && payload == nullptr))
        return Error::InvalidArgument;
    uint8_t* p = core.ip_payload();
    p[0] = kIcmpEchoRequest;
    p[1] = 0;
    store16(p + 2, 0);
    store16(p + 4, id);
    store16(p + 6, sequence);
    if (len != 0)
        memcpy(p + kIcmpHeader, payload, len);
    store16(p + 2, checksum(p, kIcmpHeader + len));
    return core.send_ipv4(to, kProtocolIcmp, kIcmpHeader + len);
}

bool Stack::take_echo_reply(EchoReply& out)
{
    if (core_ == nullptr || core_->echo_count == 0)
        return false;
    out = core_->echo_replies[core_->echo_head];
    core_->echo_head = (core_->echo_head + 1) % kEchoReplyQueue;
    core_->echo_count--;
    return true;
}

const NetStats& Stack::stats() const
{
    static const NetStats empty{};
    return core_ != nullptr ? core_->stats : empty;
}

Ipv4Config Stack::ipv4_config() const { return core_ != nullptr ? core_->config.ipv4 : Ipv4Config{}; }
MacAddress Stack::mac() const { return core_ != nullptr ? core_->config.mac : MacAddress{}; }
uint16_t Stack::mtu() const { return core_ != nullptr ? core_->mtu : 0; }

bool Stack::arp_lookup(Ipv4Address address, MacAddress& out) const
{
    if (core_ == nullptr)
        return false;
    for (const auto& entry : core_->arp)
        if (entry.kind == detail::ArpEntry::Kind::Resolved && entry.address == address &&
            entry.deadline > core_->now()) {
            out = entry.mac;
            return true;
        }
    return false;
}

} // namespace ukrun::net
