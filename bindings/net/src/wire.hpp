// Wire formats: byte-order loads and stores, the Internet checksum, header sizes and protocol numbers.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace ukrun::net::wire {

// Headers are read and written byte by byte: frames have no alignment guarantee and the
// layout never depends on the compiler's struct packing.
inline uint16_t load16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t load32(const uint8_t* p)
{
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void store16(uint8_t* p, uint16_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
inline void store32(uint8_t* p, uint32_t v)
{
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

// One's-complement sum of big-endian 16-bit words, folded only at the end.
inline uint32_t checksum_add(uint32_t sum, const uint8_t* data, size_t len)
{
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        sum += load16(data + i);
    if (i < len)
        sum += uint32_t{data[i]} << 8;
    return sum;
}
inline uint16_t checksum_finish(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}
inline uint16_t checksum(const uint8_t* data, size_t len)
{
    return checksum_finish(checksum_add(0, data, len));
}
// The TCP/UDP pseudo-header: addresses, protocol and the transport length.
inline uint32_t pseudo_header_sum(uint32_t source, uint32_t destination, uint8_t protocol,
                                  size_t len)
{
    return (source >> 16) + (source & 0xffff) + (destination >> 16) + (destination & 0xffff) +
           protocol + static_cast<uint32_t>(len);
}

inline constexpr size_t kEthHeader = 14;
inline constexpr size_t kEthMinFrame = 60; // without FCS; shorter frames are zero-padded
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;

inline constexpr size_t kArpPacket = 28;
inline constexpr uint16_t kArpRequest = 1;
inline constexpr uint16_t kArpReply = 2;

inline constexpr size_t kIpv4Header = 20;
inline constexpr uint8_t kProtocolIcmp = 1;
inline constexpr uint8_t kProtocolTcp = 6;
inline constexpr uint8_t kProtocolUdp = 17;
inline constexpr uint8_t kDefaultTtl = 64;

inline constexpr size_t kIcmpHeader = 8;
inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpEchoRequest = 8;

inline constexpr size_t kUdpHeader = 8;

inline constexpr size_t kTcpHeader = 20;
inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpOptionEnd = 0;
inline constexpr uint8_t kTcpOptionNop = 1;
inline constexpr uint8_t kTcpOptionMss = 2;

} // namespace ukrun::net::wire
