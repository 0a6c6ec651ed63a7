// ukrun guest network stack: Ethernet, ARP, IPv4, ICMP echo, UDP and TCP over a link the unikernel drives.
#ifndef UKRUN_NET_H
#define UKRUN_NET_H

#include <stddef.h>
#include <stdint.h>

/*
 * The stack never touches a device or a hypercall: the unikernel's driver hands it received
 * frames (Stack::receive_frame), gives it a NetLink to transmit on and a monotonic clock, and
 * calls Stack::poll() from its event loop, sleeping until Stack::next_timer_deadline() at most.
 * Nothing blocks and nothing throws: calls return an Error, and WouldBlock means "after the
 * next frame or timer". Memory is bounded by the limits below; buffers come from operator new
 * when a socket or connection is created and go back when it ends.
 *
 * Handles (UdpSocket, TcpListener, TcpConnection) are small values that name a slot in the
 * stack; once the slot is closed or reused, every call on a stale handle fails with
 * NotConnected. Handles must not outlive their Stack. Single-threaded: one event loop.
 */

namespace ukrun::net {

// ---- Limits -----------------------------------------------------------------------------
inline constexpr size_t kMaxTcpConnections = 16; // includes connections waiting in a backlog
inline constexpr size_t kMaxTcpListeners = 8;
inline constexpr size_t kMaxUdpSockets = 8;
inline constexpr size_t kTcpBufferBytes = 64 * 1024; // per direction, per connection
inline constexpr size_t kUdpQueueBytes = 16 * 1024;  // per socket; each datagram costs 8 extra
inline constexpr size_t kArpCacheEntries = 16;
inline constexpr size_t kArpPendingPackets = 8; // packets held (stack-wide) until ARP answers
inline constexpr size_t kEchoReplyQueue = 8;
inline constexpr uint16_t kMinMtu = 576;
inline constexpr uint16_t kMaxMtu = 1500; // no jumbo frames: the transmit buffer is fixed

// ---- Basic types --------------------------------------------------------------------------
enum class Error : int {
    None = 0,
    WouldBlock,        // nothing to read or no room to write yet
    EndOfStream,       // the peer closed and every byte it sent has been read
    InvalidArgument,
    AddressInUse,
    NoResources,       // a fixed limit was reached or the heap is exhausted
    Unreachable,       // off-subnet with no gateway
    MessageTooLong,    // a datagram larger than one frame (there is no fragmentation)
    NotConnected,      // a stale or empty handle, or writing after shutdown_write()
    ConnectionRefused, // the peer answered the SYN with a RST
    ConnectionReset,
    TimedOut,          // retransmissions were never acknowledged
};
const char* error_name(Error error);

struct MacAddress {
    uint8_t bytes[6];
};

// IPv4 addresses are held in host byte order: 10.0.0.2 is 0x0a000002.
using Ipv4Address = uint32_t;
constexpr Ipv4Address ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    return (Ipv4Address{a} << 24) | (Ipv4Address{b} << 16) | (Ipv4Address{c} << 8) | d;
}

struct Endpoint {
    Ipv4Address address = 0;
    uint16_t port = 0;
};

// Static configuration; a zero gateway means only the local subnet is reachable.
struct Ipv4Config {
    Ipv4Address address = 0;
    uint8_t prefix_length = 0;
    Ipv4Address gateway = 0;
};

// A dotted quad such as "10.0.0.2" and nothing after it.
bool parse_ipv4(const char* text, Ipv4Address& out);
// Reads "ip=A.B.C.D/N" (required) and "gw=A.B.C.D" (optional) among the arguments and ignores
// the others, so the unikernel's whole argv can be passed. False if ip= is missing or either
// is malformed (prefix 1..32, address neither zero nor the subnet broadcast).
bool parse_ipv4_config(int argc, const char* const* argv, Ipv4Config& out);
// The same, for one string of space-separated arguments.
bool parse_ipv4_config(const char* text, Ipv4Config& out);

// What the stack transmits on: the driver's transmit queue.
class NetLink {
public:
    // One whole Ethernet frame without FCS. False if it could not be queued; the frame is then
    // lost as on a wire, and TCP recovers by retransmitting.
    virtual bool send_frame(const uint8_t* frame, size_t len) = 0;

protected:
    ~NetLink() = default;
};

// Monotonic nanoseconds, e.g. ukrun_monotonic_ns.
using ClockFunction = uint64_t (*)();

struct StackConfig {
    NetLink* link = nullptr;
    ClockFunction clock = nullptr;
    MacAddress mac{};
    uint16_t mtu = 1500; // IP bytes per frame (the device's MTU); clamped to [kMinMtu, kMaxMtu]
    Ipv4Config ipv4;
    uint64_t seed = 0; // mixed into initial sequence numbers and ephemeral ports
};

struct IoResult {
    size_t bytes = 0;
    Error error = Error::None; // None whenever bytes > 0
};

// Counters, including every frame dropped and why; useful to assert on in tests.
struct NetStats {
    uint64_t frames_received = 0;
    uint64_t frames_sent = 0;
    uint64_t send_failures = 0; // NetLink::send_frame returned false

    uint64_t eth_malformed = 0;    // shorter than a header or longer than the MTU allows
    uint64_t eth_not_for_us = 0;   // another unicast MAC or a multicast group
    uint64_t eth_unknown_type = 0;
    uint64_t arp_malformed = 0;    // short, wrong hardware/protocol type or size, bad opcode
    uint64_t arp_queue_full = 0;   // outgoing packet refused: too many await resolution
    uint64_t arp_unresolved = 0;   // outgoing packets dropped because nobody answered ARP
    uint64_t ip_malformed = 0;     // version, IHL, total length or a bogus source
    uint64_t ip_checksum = 0;
    uint64_t ip_fragment = 0;      // fragments are not reassembled
    uint64_t ip_not_for_us = 0;
    uint64_t ip_unknown_protocol = 0;
    uint64_t ip_no_route = 0;      // outgoing, off-subnet without a gateway
    uint64_t icmp_malformed = 0;
    uint64_t icmp_checksum = 0;
    uint64_t udp_malformed = 0;
    uint64_t udp_checksum = 0;
    uint64_t udp_no_socket = 0;
    uint64_t udp_queue_full = 0;
    uint64_t tcp_malformed = 0;    // length, data offset or options
    uint64_t tcp_checksum = 0;
    uint64_t tcp_no_connection = 0; // answered with a RST
    uint64_t tcp_out_of_order = 0;  // data ahead of the next expected byte, not buffered
    uint64_t tcp_backlog_full = 0;

    uint64_t tcp_retransmits = 0; // retransmission timeouts (each resends the window)
    uint64_t tcp_resets_sent = 0;

    uint64_t dropped() const;
};

struct EchoReply {
    Ipv4Address from = 0;
    uint16_t id = 0;
    uint16_t sequence = 0;
    size_t payload_len = 0;
    uint64_t received_ns = 0;
};

enum class TcpState : uint8_t {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
};
const char* tcp_state_name(TcpState state);

namespace detail {
struct StackCore;
}

class UdpSocket {
public:
    UdpSocket() = default;
    bool valid() const;
    uint16_t local_port() const;
    // Sends one datagram of at most MTU - 28 bytes; None also when it waits for ARP.
    Error send_to(Endpoint to, const void* data, size_t len);
    // The oldest datagram; a larger one is cut to capacity and the rest discarded.
    IoResult receive_from(void* buffer, size_t capacity, Endpoint* from);
    bool readable() const;
    void close();

private:
    friend class Stack;
    UdpSocket(detail::StackCore* core, uint16_t slot, uint16_t generation)
        : core_(core), slot_(slot), generation_(generation)
    {
    }
    detail::StackCore* core_ = nullptr;
    uint16_t slot_ = 0;
    uint16_t generation_ = 0;
};

class TcpConnection {
public:
    TcpConnection() = default;
    // Until close() or abort(); a connection that ended by itself stays valid (state Closed,
    // error() says why) so the loss can be observed.
    bool valid() const;
    TcpState state() const;
    // None while healthy and after a clean close; otherwise why the connection ended.
    Error error() const;
    Endpoint local() const;
    Endpoint remote() const;

    // Received bytes in order; EndOfStream after the peer's FIN, WouldBlock while waiting.
    IoResult read(void* buffer, size_t capacity);
    // Queues as much as fits in the send buffer (possibly before the handshake completes).
    IoResult write(const void* data, size_t len);
    bool readable() const;     // read() would not return WouldBlock
    bool writable() const;     // write() would accept at least one byte
    bool peer_closed() const;  // the peer's FIN has arrived
    size_t unsent_bytes() const; // written but not yet acknowledged by the peer

    // Sends FIN after the queued data; reading goes on until the peer closes.
    Error shutdown_write();
    // Graceful close: FIN after the queued data, the stack completes the handshake on its own
    // (and discards whatever still arrives). The handle is invalid afterwards.
    void close();
    // Sends a RST and forgets the connection at once.
    void abort();

private:
    friend class Stack;
    friend class TcpListener;
    TcpConnection(detail::StackCore* core, uint16_t slot, uint16_t generation)
        : core_(core), slot_(slot), generation_(generation)
    {
    }
    detail::StackCore* core_ = nullptr;
    uint16_t slot_ = 0;
    uint16_t generation_ = 0;
};

class TcpListener {
public:
    TcpListener() = default;
    bool valid() const;
    uint16_t local_port() const;
    // The oldest completed connection of the backlog, or WouldBlock.
    Error accept(TcpConnection& out);
    bool pending() const; // accept() would succeed
    // Stops listening and resets connections still waiting in the backlog.
    void close();

private:
    friend class Stack;
    TcpListener(detail::StackCore* core, uint16_t slot, uint16_t generation)
        : core_(core), slot_(slot), generation_(generation)
    {
    }
    detail::StackCore* core_ = nullptr;
    uint16_t slot_ = 0;
    uint16_t generation_ = 0;
};

class Stack {
public:
    Stack() = default;
    ~Stack();
    Stack(const Stack&) = delete;
    Stack& operator=(const Stack&) = delete;

    // InvalidArgument without a link, a clock or a usable address; NoResources without heap.
    Error init(const StackConfig& config);
    bool initialized() const { return core_ != nullptr; }

    // Driver side. A received frame is parsed in place and not kept: the caller may reuse it.
    void receive_frame(const uint8_t* frame, size_t len);
    // Runs the timers due at now_ns (retransmission, ARP retries and expiry, TIME_WAIT).
    void poll(uint64_t now_ns);
    // When poll() next has work: UINT64_MAX if no timer is armed.
    uint64_t next_timer_deadline() const;

    // Port 0 picks an ephemeral port.
    Error udp_bind(uint16_t port, UdpSocket& out);
    Error tcp_listen(uint16_t port, uint16_t backlog, TcpListener& out);
    // Starts an active open; out becomes Established, or Closed with an error(), later.
    Error tcp_connect(Endpoint remote, TcpConnection& out);

    // Sends an ICMP echo request (payload at most MTU - 28); replies arrive via take_echo_reply.
    Error ping(Ipv4Address to, uint16_t id, uint16_t sequence, const void* payload, size_t len);
    bool take_echo_reply(EchoReply& out);

    const NetStats& stats() const;
    Ipv4Config ipv4_config() const;
    MacAddress mac() const;
    uint16_t mtu() const;
    // A resolved ARP cache entry, for diagnostics.
    bool arp_lookup(Ipv4Address address, MacAddress& out) const;

private:
    detail::StackCore* core_ = nullptr;
};

} // namespace ukrun::net

#endif // UKRUN_NET_H
