// The stack's internal state shared by the layers: ARP cache, socket slots, TCP control blocks.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <ukrun/net.h>

#include "byte_ring.hpp"
#include "wire.hpp"

namespace ukrun::net::detail {

inline constexpr uint64_t kNever = UINT64_MAX;
inline constexpr uint64_t kMillisecond = 1000000;
inline constexpr uint64_t kSecond = 1000 * kMillisecond;

struct ArpEntry {
    enum class Kind : uint8_t { Free, Pending, Resolved };
    Kind kind = Kind::Free;
    uint8_t attempts = 0;
    Ipv4Address address = 0;
    MacAddress mac{};
    uint64_t deadline = kNever; // Pending: next request or give up; Resolved: expiry
};

// An outgoing IPv4 packet (without its Ethernet header) waiting for its next hop's MAC.
struct PendingPacket {
    bool used = false;
    uint16_t len = 0;
    Ipv4Address next_hop = 0;
    uint8_t packet[kMaxMtu];
};

struct UdpSlot {
    bool used = false;
    uint16_t generation = 0;
    uint16_t port = 0;
    ByteRing queue; // records: address (4), port (2), length (2), payload
};

struct ListenerSlot {
    bool used = false;
    uint16_t generation = 0;
    uint16_t port = 0;
    uint16_t backlog = 0;
};

// Who holds a connection decides when the stack may free it.
enum class TcbOwner : uint8_t {
    Backlog, // waiting in a listener's backlog: freed if it dies before accept()
    User,    // a handle refers to it: kept until close() or abort()
    Stack,   // closed by the user: the stack finishes the close and frees it
};

struct Tcb {
    bool used = false;
    uint16_t generation = 0;
    TcpState state = TcpState::Closed;
    TcbOwner owner = TcbOwner::User;
    Error error = Error::None;
    int16_t listener = -1; // backlog slot while owner is Backlog
    uint64_t accept_order = 0;

    uint16_t local_port = 0;
    uint16_t remote_port = 0;
    Ipv4Address remote_address = 0;

    // Send sequence space (RFC 793 names). snd_max is the highest sequence ever sent: a
    // timeout rewinds snd_nxt to snd_una, and late ACKs up to snd_max are still valid.
    uint32_t iss = 0;
    uint32_t snd_una = 0;
    uint32_t snd_nxt = 0;
    uint32_t snd_max = 0;
    uint32_t snd_wnd = 0;
    uint32_t snd_wl1 = 0;
    uint32_t snd_wl2 = 0;
    uint16_t snd_mss = 536;
    uint32_t cwnd = 0;
    uint32_t ssthresh = UINT32_MAX;
    bool fin_queued = false;  // the user closed its side: FIN follows the queued data
    bool fin_sent = false;    // FIN is at snd_nxt - 1 (cleared by a rewind)
    bool fin_ever_sent = false;
    uint32_t fin_seq = 0;

    // Receive sequence space.
    uint32_t irs = 0;
    uint32_t rcv_nxt = 0;
    uint32_t rcv_adv = 0; // the window last advertised
    bool fin_received = false;
    bool ack_pending = false;

    // Retransmission (RFC 6298) and the zero-window probe share one timer.
    bool rtt_valid = false; // srtt and rttvar hold a sample
    uint64_t srtt = 0;
    uint64_t rttvar = 0;
    uint64_t rto = 0;
    bool rtt_timing = false;
    uint32_t rtt_seq = 0;
    uint64_t rtt_start = 0;
    uint64_t retransmit_deadline = kNever;
    uint8_t retries = 0;
    bool persisting = false;
    uint64_t state_deadline = kNever; // TIME_WAIT, or FIN_WAIT_2 after the user closed

    ByteRing rx;
    ByteRing tx;
};

struct StackCore {
    StackConfig config;
    Ipv4Address netmask = 0;
    uint16_t mtu = 0;
    NetStats stats;

    ArpEntry arp[kArpCacheEntries];
    PendingPacket pending[kArpPendingPackets];
    UdpSlot udp[kMaxUdpSockets];
    ListenerSlot listeners[kMaxTcpListeners];
    Tcb tcbs[kMaxTcpConnections];
    EchoReply echo_replies[kEchoReplyQueue];
    size_t echo_head = 0;
    size_t echo_count = 0;

    uint16_t ip_id = 0;
    uint16_t next_ephemeral = 0;
    uint32_t isn_state = 0;
    uint64_t accept_counter = 0;

    // Every outgoing frame is built here: Ethernet header, IPv4 header, then the payload.
    uint8_t frame[wire::kEthHeader + kMaxMtu];

    uint64_t now() const { return config.clock(); }
    uint8_t* ip_payload() { return frame + wire::kEthHeader + wire::kIpv4Header; }
    size_t max_ip_payload() const { return mtu - wire::kIpv4Header; }
    uint16_t own_mss() const { return static_cast<uint16_t>(mtu - 40); }
    bool is_broadcast(Ipv4Address address) const
    {
        return address == 0xffffffffu || (netmask != 0xffffffffu && address == (config.ipv4.address | ~netmask));
    }
    uint32_t random32();
    uint16_t ephemeral_port(bool tcp);

    // Builds the IPv4 header in front of payload_len bytes at ip_payload() and sends it.
    Error send_ipv4(Ipv4Address destination, uint8_t protocol, size_t payload_len);
    // Adds the Ethernet header to payload_len bytes at frame + kEthHeader and transmits.
    void transmit(const MacAddress& destination, uint16_t ether_type, size_t payload_len);
};

// Sends the IPv4 packet at frame + kEthHeader, resolving (or queueing for) the next hop.
Error arp_send_ipv4(StackCore& core, Ipv4Address destination, size_t packet_len);

void arp_input(StackCore& core, const uint8_t* packet, size_t len);
void arp_timers(StackCore& core, uint64_t now);
uint64_t arp_next_deadline(const StackCore& core);

void udp_input(StackCore& core, Ipv4Address source, Ipv4Address destination,
               const uint8_t* datagram, size_t len);

void tcp_input(StackCore& core, Ipv4Address source, Ipv4Address destination,
               const uint8_t* segment, size_t len);
void tcp_timers(StackCore& core, uint64_t now);
uint64_t tcp_next_deadline(const StackCore& core);

} // namespace ukrun::net::detail
