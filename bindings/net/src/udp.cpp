// UDP: datagram input with checksum and length checks, bound sockets with a bounded receive queue.
#include <string.h>

#include "core.hpp"

namespace ukrun::net {

using namespace wire;
using detail::StackCore;
using detail::UdpSlot;

namespace {

constexpr size_t kRecordHeader = 8; // address, port, length

UdpSlot* live_slot(StackCore* core, uint16_t slot, uint16_t generation)
{
    if (core == nullptr || slot >= kMaxUdpSockets)
        return nullptr;
    UdpSlot& s = core->udp[slot];
    return s.used && s.generation == generation ? &s : nullptr;
}

} // namespace

void detail::udp_input(StackCore& core, Ipv4Address source, Ipv4Address destination,
                       const uint8_t* p, size_t len)
{
    // Untrusted: the UDP length must fit the IP payload (which may carry trailing bytes).
    if (len < kUdpHeader) {
        core.stats.udp_malformed++;
        return;
    }
    const size_t udp_len = load16(p + 4);
    if (udp_len < kUdpHeader || udp_len > len || load16(p) == 0) {
        core.stats.udp_malformed++;
        return;
    }
    // A zero checksum means the sender did not compute one (allowed over IPv4).
    if (load16(p + 6) != 0 &&
        checksum_finish(checksum_add(pseudo_header_sum(source, destination, kProtocolUdp, udp_len), p,
                                     udp_len)) != 0) {
        core.stats.udp_checksum++;
        return;
    }
    const uint16_t port = load16(p + 2);
    for (auto& socket : core.udp) {
        if (!socket.used || socket.port != port)
            continue;
        const size_t payload_len = udp_len - kUdpHeader;
        if (socket.queue.space() < kRecordHeader + payload_len) {
            core.stats.udp_queue_full++;
            return;
        }
        uint8_t header[kRecordHeader];
        store32(header, source);
        memcpy(header + 4, p, 2); // the source port, still in network order
        store16(header + 6, static_cast<uint16_t>(payload_len));
        socket.queue.push(header, sizeof header);
        socket.queue.push(p + kUdpHeader, payload_len);
        return;
    }
    // No ICMP port unreachable: a unikernel has no reason to advertise its closed ports.
    core.stats.udp_no_socket++;
}

Error Stack::udp_bind(uint16_t port, UdpSocket& out)
{
    if (core_ == nullptr)
        return Error::NotConnected;
    StackCore& core = *core_;
    UdpSlot* free_slot = nullptr;
    for (auto& socket : core.udp) {
        if (socket.used && port != 0 && socket.port == port)
            return Error::AddressInUse;
        if (!socket.used && free_slot == nullptr)
            free_slot = &socket;
    }
    if (free_slot == nullptr)
        return Error::NoResources;
    if (port == 0 && (port = core.ephemeral_port(false)) == 0)
        return Error::AddressInUse;
    if (!free_slot->queue.allocate(kUdpQueueBytes))
        return Error::NoResources;
    free_slot->used = true;
    free_slot->port = port;
    out = UdpSocket(core_, static_cast<uint16_t>(free_slot - core.udp), free_slot->generation);
    return Error::None;
}

bool UdpSocket::valid() const { return live_slot(core_, slot_, generation_) != nullptr; }

uint16_t UdpSocket::local_port() const
{
    const UdpSlot* s = live_slot(core_, slot_, generation_);
    return s != nullptr ? s->port : 0;
}

Error UdpSocket::send_to(Endpoint to, const void* data, size_t len)
{
    UdpSlot* s = live_slot(core_, slot_, generation_);
    if (s == nullptr)
        return Error::NotConnected;
    StackCore& core = *core_;
    if (len > core.max_ip_payload() - kUdpHeader)
        return Error::MessageTooLong;
    if (to.address == 0 || to.port == 0 || (len != 0 && data == nullptr))
        return Error::InvalidArgument;
    uint8_t* p = core.ip_payload();
    const size_t udp_len = kUdpHeader + len;
    store16(p, s->port);
    store16(p + 2, to.port);
    store16(p + 4, static_cast<uint16_t>(udp_len));
    store16(p + 6, 0);
    if (len != 0)
        memcpy(p + kUdpHeader, data, len);
    uint16_t sum = checksum_finish(
        checksum_add(pseudo_header_sum(core.config.ipv4.address, to.address, kProtocolUdp, udp_len), p, udp_len));
    store16(p + 6, sum == 0 ? 0xffff : sum); // zero would mean "no checksum"
    return core.send_ipv4(to.address, kProtocolUdp, udp_len);
}

IoResult UdpSocket::receive_from(void* buffer, size_t capacity, Endpoint* from)
{
    UdpSlot* s = live_slot(core_, slot_, generation_);
    if (s == nullptr)
        return {0, Error::NotConnected};
    if (s->queue.size() < kRecordHeader)
        return {0, Error::WouldBlock};
    if (capacity != 0 && buffer == nullptr)
        return {0, Error::InvalidArgument};
    uint8_t header[kRecordHeader];
    s->queue.peek(0, header, sizeof header);
    const size_t len = load16(header + 6);
    const size_t copied = len < capacity ? len : capacity;
    if (copied != 0)
        s->queue.peek(kRecordHeader, buffer, copied);
    s->queue.pop(kRecordHeader + len);
    if (from != nullptr) {
        from->address = load32(header);
        from->port = load16(header + 4);
    }
    return {copied, Error::None};
}

bool UdpSocket::readable() const
{
    const UdpSlot* s = live_slot(core_, slot_, generation_);
    return s != nullptr && s->queue.size() != 0;
}

void UdpSocket::close()
{
    UdpSlot* s = live_slot(core_, slot_, generation_);
    if (s != nullptr) {
        s->queue.release();
        s->used = false;
        s->port = 0;
        s->generation++;
    }
    core_ = nullptr;
}

} // namespace ukrun::net
