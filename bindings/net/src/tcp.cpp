// TCP: the connection state machine, retransmission (RFC 6298), flow control, listeners and the connection API.
#include <string.h>

#include <new>

#include "core.hpp"

namespace ukrun::net {

using namespace wire;
using detail::kMillisecond;
using detail::kNever;
using detail::kSecond;
using detail::ListenerSlot;
using detail::StackCore;
using detail::Tcb;
using detail::TcbOwner;

namespace {

constexpr uint64_t kInitialRto = 200 * kMillisecond;
constexpr uint64_t kMinRto = 200 * kMillisecond;
constexpr uint64_t kMaxRto = 60 * kSecond;
constexpr uint64_t kMaxPersistInterval = 10 * kSecond;
constexpr uint8_t kMaxSynRetries = 6;
constexpr uint8_t kMaxRetries = 10;
// 2 MSL with a 500 ms MSL: a short quiet time is enough on the links a unikernel sits on.
constexpr uint64_t kTimeWait = kSecond;
// A FIN_WAIT_2 nobody reads from would otherwise wait forever for a peer that never closes.
constexpr uint64_t kOrphanFinWait2 = 30 * kSecond;
constexpr uint16_t kDefaultMss = 536;
constexpr uint16_t kMinMss = 64;
constexpr uint32_t kMaxWindow = 65535; // no window scaling
constexpr uint32_t kInitialWindowSegments = 10;

bool seq_lt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
bool seq_le(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) <= 0; }
bool seq_gt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }
bool seq_ge(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) >= 0; }
template <typename T> T min_of(T a, T b) { return a < b ? a : b; }
template <typename T> T max_of(T a, T b) { return a > b ? a : b; }

// A validated incoming segment.
struct Segment {
    Ipv4Address source = 0;
    uint16_t source_port = 0;
    uint16_t destination_port = 0;
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = 0;
    uint16_t window = 0;
    uint16_t mss = 0; // 0: no MSS option
    const uint8_t* data = nullptr;
    size_t data_len = 0;

    bool has(uint8_t flag) const { return (flags & flag) != 0; }
    uint32_t length() const // sequence space it occupies
    {
        return static_cast<uint32_t>(data_len) + (has(kTcpSyn) ? 1 : 0) + (has(kTcpFin) ? 1 : 0);
    }
};

bool may_send_data(TcpState s)
{
    return s == TcpState::Established || s == TcpState::CloseWait || s == TcpState::FinWait1 ||
           s == TcpState::Closing || s == TcpState::LastAck;
}

bool fin_acked(const Tcb& t) { return t.fin_ever_sent && seq_gt(t.snd_una, t.fin_seq); }

uint32_t receive_window(const Tcb& t)
{
    // After close() arriving data is discarded, so the whole buffer is always open.
    const size_t space = t.owner == TcbOwner::Stack ? t.rx.capacity() : t.rx.space();
    return static_cast<uint32_t>(min_of<size_t>(space, kMaxWindow));
}

uint16_t choose_mss(const StackCore& core, uint16_t offered)
{
    const uint16_t mss = offered == 0 ? kDefaultMss : offered;
    return min_of(max_of(mss, kMinMss), core.own_mss());
}

Tcb* tcb_at(StackCore* core, uint16_t slot, uint16_t generation)
{
    if (core == nullptr || slot >= kMaxTcpConnections)
        return nullptr;
    Tcb& t = core->tcbs[slot];
    return t.used && t.generation == generation && t.owner == TcbOwner::User ? &t : nullptr;
}

ListenerSlot* listener_at(StackCore* core, uint16_t slot, uint16_t generation)
{
    if (core == nullptr || slot >= kMaxTcpListeners)
        return nullptr;
    ListenerSlot& l = core->listeners[slot];
    return l.used && l.generation == generation ? &l : nullptr;
}

void free_tcb(Tcb& t)
{
    const auto generation = static_cast<uint16_t>(t.generation + 1);
    t.~Tcb(); // releases both buffers
    new (&t) Tcb;
    t.generation = generation;
}

void checksum_and_send(StackCore& core, Ipv4Address destination, size_t len)
{
    uint8_t* p = core.ip_payload();
    store16(p + 16, 0);
    store16(p + 16, checksum_finish(checksum_add(
                        pseudo_header_sum(core.config.ipv4.address, destination, kProtocolTcp, len), p, len)));
    core.send_ipv4(destination, kProtocolTcp, len);
}

void send_segment(StackCore& core, Tcb& t, uint32_t seq, uint8_t flags, size_t data_offset, size_t len)
{
    uint8_t* p = core.ip_payload();
    const size_t header = kTcpHeader + ((flags & kTcpSyn) != 0 ? 4 : 0);
    const uint32_t window = receive_window(t);
    store16(p, t.local_port);
    store16(p + 2, t.remote_port);
    store32(p + 4, seq);
    store32(p + 8, (flags & kTcpAck) != 0 ? t.rcv_nxt : 0);
    p[12] = static_cast<uint8_t>((header / 4) << 4);
    p[13] = flags;
    store16(p + 14, static_cast<uint16_t>(window));
    store32(p + 16, 0); // checksum and urgent pointer
    if ((flags & kTcpSyn) != 0) {
        p[20] = kTcpOptionMss;
        p[21] = 4;
        store16(p + 22, core.own_mss());
    }
    if (len != 0)
        t.tx.peek(data_offset, p + header, len);
    if ((flags & kTcpAck) != 0) {
        t.ack_pending = false;
        t.rcv_adv = t.rcv_nxt + window;
    }
    if ((flags & kTcpRst) != 0)
        core.stats.tcp_resets_sent++;
    checksum_and_send(core, t.remote_address, header + len);
}

// RFC 793's reply to a segment that belongs to no connection.
void send_reset_reply(StackCore& core, const Segment& seg)
{
    if (seg.has(kTcpRst))
        return;
    uint8_t* p = core.ip_payload();
    store16(p, seg.destination_port);
    store16(p + 2, seg.source_port);
    if (seg.has(kTcpAck)) {
        store32(p + 4, seg.ack);
        store32(p + 8, 0);
        p[13] = kTcpRst;
    } else {
        store32(p + 4, 0);
        store32(p + 8, seg.seq + seg.length());
        p[13] = kTcpRst | kTcpAck;
    }
    p[12] = (kTcpHeader / 4) << 4;
    store16(p + 14, 0);
    store32(p + 16, 0);
    core.stats.tcp_resets_sent++;
    checksum_and_send(core, seg.source, kTcpHeader);
}

void enter_closed(Tcb& t, Error error)
{
    t.state = TcpState::Closed;
    if (t.error == Error::None)
        t.error = error;
    t.retransmit_deadline = t.state_deadline = kNever;
    t.persisting = false;
    if (t.owner != TcbOwner::User)
        free_tcb(t);
}

void enter_time_wait(Tcb& t, uint64_t now)
{
    t.state = TcpState::TimeWait;
    t.retransmit_deadline = kNever;
    t.persisting = false;
    t.state_deadline = now + kTimeWait;
}

void rtt_sample(Tcb& t, uint64_t rtt)
{
    if (!t.rtt_valid) {
        t.srtt = rtt;
        t.rttvar = rtt / 2;
        t.rtt_valid = true;
    } else {
        const uint64_t delta = t.srtt > rtt ? t.srtt - rtt : rtt - t.srtt;
        t.rttvar = (3 * t.rttvar + delta) / 4;
        t.srtt = (7 * t.srtt + rtt) / 8;
    }
    t.rto = min_of(max_of(t.srtt + max_of<uint64_t>(kMillisecond, 4 * t.rttvar), kMinRto), kMaxRto);
}

void arm_retransmit(Tcb& t, uint64_t now)
{
    if (t.retransmit_deadline == kNever)
        t.retransmit_deadline = now + t.rto;
}

// Sends what the state, the peer's window and the congestion window allow, then any ACK owed.
void tcp_output(StackCore& core, Tcb& t)
{
    const uint64_t now = core.now();
    if (t.state == TcpState::SynSent || t.state == TcpState::SynReceived) {
        if (t.snd_nxt == t.iss) {
            const uint8_t flags = t.state == TcpState::SynSent ? kTcpSyn : kTcpSyn | kTcpAck;
            send_segment(core, t, t.iss, flags, 0, 0);
            t.snd_nxt = t.snd_max = t.iss + 1;
            if (t.retries == 0) { // Karn: never time a retransmitted SYN
                t.rtt_timing = true;
                t.rtt_seq = t.snd_nxt;
                t.rtt_start = now;
            }
            arm_retransmit(t, now);
        }
    } else if (may_send_data(t.state)) {
        const uint32_t window = min_of(t.snd_wnd, t.cwnd);
        while (!t.fin_sent && !fin_acked(t)) {
            const uint32_t offset = t.snd_nxt - t.snd_una; // bytes in flight
            const size_t unsent = t.tx.size() > offset ? t.tx.size() - offset : 0;
            const uint32_t room = window > offset ? window - offset : 0;
            const size_t len = min_of<size_t>(min_of<size_t>(unsent, room), t.snd_mss);
            const bool fin = t.fin_queued && len == unsent;
            if (len == 0 && !fin)
                break;
            uint8_t flags = kTcpAck;
            if (len != 0)
                flags |= kTcpPsh;
            if (fin)
                flags |= kTcpFin;
            send_segment(core, t, t.snd_nxt, flags, offset, len);
            if (!t.rtt_timing && t.snd_nxt == t.snd_max) { // new data only (Karn)
                t.rtt_timing = true;
                t.rtt_seq = t.snd_nxt + static_cast<uint32_t>(len);
                t.rtt_start = now;
            }
            if (fin) {
                t.fin_sent = t.fin_ever_sent = true;
                t.fin_seq = t.snd_nxt + static_cast<uint32_t>(len);
            }
            t.snd_nxt += static_cast<uint32_t>(len) + (fin ? 1 : 0);
            if (seq_gt(t.snd_nxt, t.snd_max))
                t.snd_max = t.snd_nxt;
            arm_retransmit(t, now);
        }
        // The peer's window is shut with data waiting and nothing in flight to carry its next
        // window update: probe it.
        if (t.snd_wnd == 0 && t.snd_una == t.snd_max && t.tx.size() != 0 && t.retransmit_deadline == kNever) {
            t.persisting = true;
            t.retransmit_deadline = now + t.rto;
        }
    }
    if (t.ack_pending && t.state != TcpState::SynSent)
        send_segment(core, t, t.snd_nxt, kTcpAck, 0, 0);
}

void init_established(Tcb& t, const Segment& seg)
{
    t.state = t.fin_queued ? TcpState::FinWait1 : TcpState::Established;
    t.snd_wnd = seg.window;
    t.snd_wl1 = seg.seq;
    t.snd_wl2 = seg.ack;
    t.cwnd = kInitialWindowSegments * t.snd_mss;
}

void process_new_ack(Tcb& t, uint32_t ack, uint64_t now)
{
    const uint32_t acked = ack - t.snd_una;
    uint32_t data_acked = acked;
    if (t.snd_una == t.iss) // our SYN
        data_acked--;
    if (t.fin_ever_sent && seq_gt(ack, t.fin_seq) && seq_le(t.snd_una, t.fin_seq))
        data_acked--;
    t.tx.pop(data_acked);
    t.snd_una = ack;
    if (seq_lt(t.snd_nxt, ack)) { // a late ACK for data sent before a rewind
        t.snd_nxt = ack;
        t.fin_sent = fin_acked(t);
    }
    if (t.rtt_timing && seq_ge(ack, t.rtt_seq)) {
        rtt_sample(t, now - t.rtt_start);
        t.rtt_timing = false;
    }
    t.retries = 0;
    if (t.cwnd < t.ssthresh)
        t.cwnd += min_of<uint32_t>(acked, t.snd_mss); // slow start
    else
        t.cwnd += max_of<uint32_t>(1, t.snd_mss * t.snd_mss / t.cwnd);
    t.persisting = false;
    t.retransmit_deadline = t.snd_una == t.snd_max ? kNever : now + t.rto;
}

void syn_sent_input(StackCore& core, Tcb& t, const Segment& seg, uint64_t now)
{
    if (seg.has(kTcpAck) && (seq_le(seg.ack, t.iss) || seq_gt(seg.ack, t.snd_max))) {
        send_reset_reply(core, seg);
        return;
    }
    if (seg.has(kTcpRst)) {
        if (seg.has(kTcpAck))
            enter_closed(t, Error::ConnectionRefused);
        return;
    }
    if (!seg.has(kTcpSyn))
        return;
    t.irs = seg.seq;
    t.rcv_nxt = seg.seq + 1;
    t.snd_mss = choose_mss(core, seg.mss);
    if (seg.has(kTcpAck)) {
        process_new_ack(t, seg.ack, now);
        init_established(t, seg);
        t.ack_pending = true;
    } else { // simultaneous open: answer with SYN-ACK
        t.state = TcpState::SynReceived;
        t.snd_wnd = seg.window;
        t.snd_nxt = t.iss;
        t.retransmit_deadline = kNever;
    }
    tcp_output(core, t);
}

void established_input(StackCore& core, Tcb& t, const Segment& seg, uint64_t now)
{
    // A retransmitted SYN: our SYN-ACK was lost, send it again.
    if (t.state == TcpState::SynReceived && seg.has(kTcpSyn) && !seg.has(kTcpAck) && seg.seq == t.irs) {
        t.snd_nxt = t.iss;
        tcp_output(core, t);
        return;
    }
    const uint32_t window = receive_window(t);
    const uint32_t length = seg.length();
    auto in_window = [&](uint32_t s) { return seq_le(t.rcv_nxt, s) && seq_lt(s, t.rcv_nxt + window); };
    // RFC 793 acceptability, plus a segment exactly at rcv_nxt so that its ACK and window are
    // heard even while our receive window is shut.
    const bool acceptable = seg.seq == t.rcv_nxt ||
                            (length == 0 ? in_window(seg.seq)
                                         : window != 0 && (in_window(seg.seq) || in_window(seg.seq + length - 1)));
    if (!acceptable) {
        if (!seg.has(kTcpRst)) {
            if (t.state == TcpState::TimeWait)
                t.state_deadline = now + kTimeWait;
            t.ack_pending = true;
            tcp_output(core, t);
        }
        return;
    }
    if (seg.has(kTcpRst)) {
        // RFC 5961: only a RST at exactly rcv_nxt resets; others in the window get a challenge ACK.
        if (seg.seq != t.rcv_nxt) {
            t.ack_pending = true;
            tcp_output(core, t);
        } else if (t.state == TcpState::Closing || t.state == TcpState::LastAck || t.state == TcpState::TimeWait) {
            enter_closed(t, Error::None);
        } else {
            enter_closed(t, Error::ConnectionReset);
        }
        return;
    }
    if (seg.has(kTcpSyn)) { // RFC 5961 challenge ACK instead of a reset
        t.ack_pending = true;
        tcp_output(core, t);
        return;
    }
    if (!seg.has(kTcpAck))
        return;

    if (t.state == TcpState::SynReceived) {
        if (seq_le(seg.ack, t.snd_una) || seq_gt(seg.ack, t.snd_max)) {
            send_reset_reply(core, seg);
            return;
        }
        init_established(t, seg);
        t.accept_order = ++core.accept_counter;
    }
    if (seq_gt(seg.ack, t.snd_max)) { // acknowledges something never sent
        t.ack_pending = true;
        tcp_output(core, t);
        return;
    }
    if (seq_gt(seg.ack, t.snd_una))
        process_new_ack(t, seg.ack, now);
    if (seq_lt(t.snd_wl1, seg.seq) || (t.snd_wl1 == seg.seq && seq_le(t.snd_wl2, seg.ack))) {
        t.snd_wnd = seg.window;
        t.snd_wl1 = seg.seq;
        t.snd_wl2 = seg.ack;
        if (t.persisting && t.snd_wnd != 0) {
            t.persisting = false;
            t.retransmit_deadline = kNever;
            t.retries = 0;
        }
    }
    switch (t.state) {
    case TcpState::FinWait1:
        if (fin_acked(t)) {
            t.state = TcpState::FinWait2;
            if (t.owner == TcbOwner::Stack)
                t.state_deadline = now + kOrphanFinWait2;
        }
        break;
    case TcpState::Closing:
        if (fin_acked(t))
            enter_time_wait(t, now);
        break;
    case TcpState::LastAck:
        if (fin_acked(t)) {
            enter_closed(t, Error::None);
            return;
        }
        break;
    default:
        break;
    }

    // Data, in order only: a segment ahead of rcv_nxt is dropped and the duplicate ACK asks
    // the peer to resend from rcv_nxt.
    bool fin_in_order = seg.has(kTcpFin);
    const bool receiving = t.state == TcpState::Established || t.state == TcpState::FinWait1 ||
                           t.state == TcpState::FinWait2;
    if (seg.data_len != 0 && receiving) {
        if (seq_gt(seg.seq, t.rcv_nxt)) {
            core.stats.tcp_out_of_order++;
            fin_in_order = false;
        } else {
            const size_t skip = t.rcv_nxt - seg.seq; // already received
            const size_t fresh = seg.data_len > skip ? seg.data_len - skip : 0;
            const size_t taken = min_of<size_t>(fresh, receive_window(t));
            if (t.owner != TcbOwner::Stack)
                t.rx.push(seg.data + skip, taken);
            t.rcv_nxt += static_cast<uint32_t>(taken);
            if (taken != fresh)
                fin_in_order = false;
        }
    }
    if (fin_in_order && receiving && seg.seq + seg.data_len == t.rcv_nxt) {
        t.rcv_nxt++;
        t.fin_received = true;
        if (t.state == TcpState::Established)
            t.state = TcpState::CloseWait;
        else if (t.state == TcpState::FinWait2 || fin_acked(t))
            enter_time_wait(t, now);
        else
            t.state = TcpState::Closing;
    }
    if (length != 0)
        t.ack_pending = true;
    tcp_output(core, t);
}

void listen_input(StackCore& core, ListenerSlot& listener, const Segment& seg)
{
    if (seg.has(kTcpRst))
        return;
    if (seg.has(kTcpAck)) {
        send_reset_reply(core, seg);
        return;
    }
    if (!seg.has(kTcpSyn))
        return;
    const auto index = static_cast<int16_t>(&listener - core.listeners);
    size_t queued = 0;
    Tcb* t = nullptr;
    for (auto& candidate : core.tcbs) {
        if (candidate.used && candidate.owner == TcbOwner::Backlog && candidate.listener == index)
            queued++;
        if (!candidate.used && t == nullptr)
            t = &candidate;
    }
    // A full backlog drops the SYN silently: the client retries, perhaps after an accept().
    if (queued >= listener.backlog || t == nullptr || !t->rx.allocate(kTcpBufferBytes) ||
        !t->tx.allocate(kTcpBufferBytes)) {
        if (t != nullptr)
            free_tcb(*t);
        core.stats.tcp_backlog_full++;
        return;
    }
    t->used = true;
    t->owner = TcbOwner::Backlog;
    t->listener = index;
    t->local_port = listener.port;
    t->remote_address = seg.source;
    t->remote_port = seg.source_port;
    t->irs = seg.seq;
    t->rcv_nxt = seg.seq + 1;
    t->iss = core.random32();
    t->snd_una = t->snd_nxt = t->snd_max = t->iss;
    t->snd_wnd = seg.window;
    t->snd_wl1 = seg.seq;
    t->snd_mss = choose_mss(core, seg.mss);
    t->rto = kInitialRto;
    t->state = TcpState::SynReceived;
    tcp_output(core, *t);
}

} // namespace

void detail::tcp_input(StackCore& core, Ipv4Address source, Ipv4Address destination, const uint8_t* p,
                       size_t len)
{
    // Untrusted: the header, its options and the checksum are checked before anything is used.
    const size_t header_len = len >= kTcpHeader ? static_cast<size_t>(p[12] >> 4) * 4 : 0;
    if (len < kTcpHeader || header_len < kTcpHeader || header_len > len) {
        core.stats.tcp_malformed++;
        return;
    }
    if (checksum_finish(checksum_add(pseudo_header_sum(source, destination, kProtocolTcp, len), p, len)) != 0) {
        core.stats.tcp_checksum++;
        return;
    }
    Segment seg;
    seg.source = source;
    seg.source_port = load16(p);
    seg.destination_port = load16(p + 2);
    seg.seq = load32(p + 4);
    seg.ack = load32(p + 8);
    seg.flags = p[13] & 0x3f;
    seg.window = load16(p + 14);
    seg.data = p + header_len;
    seg.data_len = len - header_len;
    if (seg.source_port == 0 || seg.destination_port == 0 ||
        (seg.has(kTcpSyn) && seg.has(kTcpFin))) {
        core.stats.tcp_malformed++;
        return;
    }
    for (size_t i = kTcpHeader; i < header_len;) {
        const uint8_t kind = p[i];
        if (kind == kTcpOptionEnd)
            break;
        if (kind == kTcpOptionNop) {
            ++i;
            continue;
        }
        if (i + 1 >= header_len || p[i + 1] < 2 || p[i + 1] > header_len - i ||
            (kind == kTcpOptionMss && p[i + 1] != 4)) {
            core.stats.tcp_malformed++;
            return;
        }
        if (kind == kTcpOptionMss)
            seg.mss = load16(p + i + 2);
        i += p[i + 1];
    }

    const uint64_t now = core.now();
    for (auto& t : core.tcbs) {
        if (t.used && t.state != TcpState::Closed && t.remote_address == source &&
            t.remote_port == seg.source_port && t.local_port == seg.destination_port) {
            if (t.state == TcpState::SynSent)
                syn_sent_input(core, t, seg, now);
            else
                established_input(core, t, seg, now);
            return;
        }
    }
    for (auto& listener : core.listeners) {
        if (listener.used && listener.port == seg.destination_port) {
            listen_input(core, listener, seg);
            return;
        }
    }
    core.stats.tcp_no_connection++;
    send_reset_reply(core, seg);
}

void detail::tcp_timers(StackCore& core, uint64_t now)
{
    for (auto& t : core.tcbs) {
        if (!t.used)
            continue;
        if (t.state_deadline <= now) {
            t.state_deadline = kNever;
            if (t.state == TcpState::TimeWait || t.state == TcpState::FinWait2) {
                enter_closed(t, Error::None);
                continue;
            }
        }
        if (t.retransmit_deadline > now)
            continue;
        t.retransmit_deadline = kNever;
        if (t.persisting) {
            // An ACK below the window draws an ACK carrying the peer's current window.
            send_segment(core, t, t.snd_una - 1, kTcpAck, 0, 0);
            if (t.retries < 16)
                t.retries++;
            t.retransmit_deadline = now + min_of(t.rto << t.retries, kMaxPersistInterval);
            continue;
        }
        const bool handshake = t.state == TcpState::SynSent || t.state == TcpState::SynReceived;
        if (++t.retries > (handshake ? kMaxSynRetries : kMaxRetries)) {
            if (t.state != TcpState::SynSent)
                send_segment(core, t, t.snd_nxt, kTcpRst | kTcpAck, 0, 0);
            enter_closed(t, Error::TimedOut);
            continue;
        }
        // Go back N: resend from the oldest unacknowledged byte, one segment at first.
        core.stats.tcp_retransmits++;
        t.rto = min_of(t.rto * 2, kMaxRto);
        t.rtt_timing = false;
        t.ssthresh = max_of<uint32_t>((t.snd_max - t.snd_una) / 2, 2u * t.snd_mss);
        t.cwnd = t.snd_mss;
        t.snd_nxt = t.snd_una;
        t.fin_sent = fin_acked(t);
        tcp_output(core, t);
    }
}

uint64_t detail::tcp_next_deadline(const StackCore& core)
{
    uint64_t deadline = kNever;
    for (const auto& t : core.tcbs) {
        if (!t.used)
            continue;
        deadline = min_of(deadline, min_of(t.retransmit_deadline, t.state_deadline));
    }
    return deadline;
}

const char* tcp_state_name(TcpState state)
{
    switch (state) {
    case TcpState::Closed: return "CLOSED";
    case TcpState::Listen: return "LISTEN";
    case TcpState::SynSent: return "SYN_SENT";
    case TcpState::SynReceived: return "SYN_RECEIVED";
    case TcpState::Established: return "ESTABLISHED";
    case TcpState::FinWait1: return "FIN_WAIT_1";
    case TcpState::FinWait2: return "FIN_WAIT_2";
    case TcpState::CloseWait: return "CLOSE_WAIT";
    case TcpState::Closing: return "CLOSING";
    case TcpState::LastAck: return "LAST_ACK";
    case TcpState::TimeWait: return "TIME_WAIT";
    }
    return "UNKNOWN";
}

// ---- Listeners --------------------------------------------------------------------------

Error Stack::tcp_listen(uint16_t port, uint16_t backlog, TcpListener& out)
{
    if (core_ == nullptr)
        return Error::NotConnected;
    if (port == 0)
        return Error::InvalidArgument;
    ListenerSlot* slot = nullptr;
    for (auto& listener : core_->listeners) {
        if (listener.used && listener.port == port)
            return Error::AddressInUse;
        if (!listener.used && slot == nullptr)
            slot = &listener;
    }
    if (slot == nullptr)
        return Error::NoResources;
    slot->used = true;
    slot->port = port;
    slot->backlog = static_cast<uint16_t>(min_of<size_t>(max_of<uint16_t>(backlog, 1), kMaxTcpConnections));
    out = TcpListener(core_, static_cast<uint16_t>(slot - core_->listeners), slot->generation);
    return Error::None;
}

bool TcpListener::valid() const { return listener_at(core_, slot_, generation_) != nullptr; }

uint16_t TcpListener::local_port() const
{
    const ListenerSlot* l = listener_at(core_, slot_, generation_);
    return l != nullptr ? l->port : 0;
}

namespace {
Tcb* next_ready(StackCore& core, uint16_t listener)
{
    Tcb* best = nullptr;
    for (auto& t : core.tcbs)
        if (t.used && t.owner == TcbOwner::Backlog && t.listener == listener && t.state != TcpState::SynReceived &&
            (best == nullptr || t.accept_order < best->accept_order))
            best = &t;
    return best;
}
} // namespace

Error TcpListener::accept(TcpConnection& out)
{
    if (listener_at(core_, slot_, generation_) == nullptr)
        return Error::NotConnected;
    Tcb* t = next_ready(*core_, slot_);
    if (t == nullptr)
        return Error::WouldBlock;
    t->owner = TcbOwner::User;
    t->listener = -1;
    out = TcpConnection(core_, static_cast<uint16_t>(t - core_->tcbs), t->generation);
    return Error::None;
}

bool TcpListener::pending() const
{
    return listener_at(core_, slot_, generation_) != nullptr && next_ready(*core_, slot_) != nullptr;
}

void TcpListener::close()
{
    ListenerSlot* l = listener_at(core_, slot_, generation_);
    if (l != nullptr) {
        for (auto& t : core_->tcbs)
            if (t.used && t.owner == TcbOwner::Backlog && t.listener == static_cast<int16_t>(slot_)) {
                send_segment(*core_, t, t.snd_nxt, kTcpRst | kTcpAck, 0, 0);
                free_tcb(t);
            }
        l->used = false;
        l->port = 0;
        l->generation++;
    }
    core_ = nullptr;
}

// ---- Connections ------------------------------------------------------------------------

Error Stack::tcp_connect(Endpoint remote, TcpConnection& out)
{
    if (core_ == nullptr)
        return Error::NotConnected;
    StackCore& core = *core_;
    if (remote.address == 0 || remote.port == 0 || core.is_broadcast(remote.address) ||
        remote.address == core.config.ipv4.address)
        return Error::InvalidArgument;
    if ((remote.address & core.netmask) != (core.config.ipv4.address & core.netmask) &&
        core.config.ipv4.gateway == 0)
        return Error::Unreachable;
    Tcb* t = nullptr;
    for (auto& candidate : core.tcbs)
        if (!candidate.used) {
            t = &candidate;
            break;
        }
    if (t == nullptr)
        return Error::NoResources;
    const uint16_t port = core.ephemeral_port(true);
    if (port == 0)
        return Error::AddressInUse;
    if (!t->rx.allocate(kTcpBufferBytes) || !t->tx.allocate(kTcpBufferBytes)) {
        free_tcb(*t);
        return Error::NoResources;
    }
    t->used = true;
    t->owner = TcbOwner::User;
    t->local_port = port;
    t->remote_address = remote.address;
    t->remote_port = remote.port;
    t->iss = core.random32();
    t->snd_una = t->snd_nxt = t->snd_max = t->iss;
    t->rto = kInitialRto;
    t->state = TcpState::SynSent;
    tcp_output(core, *t);
    out = TcpConnection(core_, static_cast<uint16_t>(t - core.tcbs), t->generation);
    return Error::None;
}

bool TcpConnection::valid() const { return tcb_at(core_, slot_, generation_) != nullptr; }

TcpState TcpConnection::state() const
{
    const Tcb* t = tcb_at(core_, slot_, generation_);
    return t != nullptr ? t->state : TcpState::Closed;
}

Error TcpConnection::error() const
{
    const Tcb* t = tcb_at(core_, slot_, generation_);
    return t != nullptr ? t->error : Error::NotConnected;
}

Endpoint TcpConnection::local() const
{
    const Tcb* t = tcb_at(core_, slot_, generation_);
    return t != nullptr ? Endpoint{core_->config.ipv4.address, t->local_port} : Endpoint{};
}

Endpoint TcpConnection::remote() const
{
    const Tcb* t = tcb_at(core_, slot_, generation_);
    return t != nullptr ? Endpoint{t->remote_address, t->remote_port} : Endpoint{};
}

IoResult TcpConnection::read(void* buffer, size_t capacity)
{
    Tcb* t = tcb_at(core_, slot_, generation_);
    if (t == nullptr)
        return {0, Error::NotConnected};
    if (t->rx.size() == 0) {
        if (t->error != Error::None)
            return {0, t->error};
        if (t->fin_received || t->state == TcpState::Closed)
            return {0, Error::EndOfStream};
        return {0, Error::WouldBlock};
    }
    if (buffer == nullptr)
        return {0, Error::InvalidArgument};
    const size_t n = t->rx.peek(0, buffer, capacity);
    t->rx.pop(n);
    // Tell the peer the window reopened once it grew by enough to matter (RFC 1122's receiver
    // side of silly-window avoidance); otherwise a sender stuck at zero waits for its probe.
    const uint32_t right_edge = t->rcv_nxt + receive_window(*t);
    const uint32_t threshold = static_cast<uint32_t>(min_of<size_t>(t->rx.capacity() / 2, core_->own_mss()));
    if (!t->fin_received && (t->state == TcpState::Established || t->state == TcpState::FinWait1 ||
                             t->state == TcpState::FinWait2) &&
        seq_ge(right_edge, t->rcv_adv + threshold)) {
        t->ack_pending = true;
        tcp_output(*core_, *t);
    }
    return {n, Error::None};
}

IoResult TcpConnection::write(const void* data, size_t len)
{
    Tcb* t = tcb_at(core_, slot_, generation_);
    if (t == nullptr)
        return {0, Error::NotConnected};
    if (t->error != Error::None)
        return {0, t->error};
    const TcpState s = t->state;
    if (t->fin_queued || (s != TcpState::SynSent && s != TcpState::SynReceived && s != TcpState::Established &&
                          s != TcpState::CloseWait))
        return {0, Error::NotConnected};
    if (len != 0 && data == nullptr)
        return {0, Error::InvalidArgument};
    const size_t n = t->tx.push(data, len);
    if (n == 0 && len != 0)
        return {0, Error::WouldBlock};
    tcp_output(*core_, *t);
    return {n, Error::None};
}

bool TcpConnection::readable() const
{
    const Tcb* t = tcb_at(core_, slot_, generation_);
    return t != nullptr && (t->rx.size() != 0 || t->fin_received || t->error != Error::None ||
                            t->state == TcpState::Closed);
}

bool TcpConnection::writable() const
{
    const Tcb* t = tcb_at(core_, slot_, generation_);
    return t != nullptr && !t->fin_queued && t->tx.space() != 0 &&
           (t->state == TcpState::Established || t->state == TcpState::CloseWait);
}

bool TcpConnection::peer_closed() const
{
    const Tcb* t = tcb_at(core_, slot_, generation_);
    return t != nullptr && t->fin_received;
}

size_t TcpConnection::unsent_bytes() const
{
    const Tcb* t = tcb_at(core_, slot_, generation_);
    return t != nullptr ? t->tx.size() : 0;
}

Error TcpConnection::shutdown_write()
{
    Tcb* t = tcb_at(core_, slot_, generation_);
    if (t == nullptr)
        return Error::NotConnected;
    if (t->fin_queued)
        return Error::None;
    switch (t->state) {
    case TcpState::SynSent:
    case TcpState::SynReceived: // the FIN follows once the handshake completes
        t->fin_queued = true;
        return Error::None;
    case TcpState::Established:
        t->state = TcpState::FinWait1;
        break;
    case TcpState::CloseWait:
        t->state = TcpState::LastAck;
        break;
    default:
        return Error::NotConnected;
    }
    t->fin_queued = true;
    tcp_output(*core_, *t);
    return Error::None;
}

void TcpConnection::close()
{
    Tcb* t = tcb_at(core_, slot_, generation_);
    StackCore* core = core_;
    core_ = nullptr;
    if (t == nullptr)
        return;
    if (t->state == TcpState::Closed || t->state == TcpState::SynSent) {
        free_tcb(*t);
        return;
    }
    if (!t->fin_queued) {
        t->fin_queued = true;
        if (t->state == TcpState::Established)
            t->state = TcpState::FinWait1;
        else if (t->state == TcpState::CloseWait)
            t->state = TcpState::LastAck;
    }
    t->owner = TcbOwner::Stack;
    t->rx.clear();
    if (t->state == TcpState::FinWait2)
        t->state_deadline = core->now() + kOrphanFinWait2;
    tcp_output(*core, *t);
}

void TcpConnection::abort()
{
    Tcb* t = tcb_at(core_, slot_, generation_);
    StackCore* core = core_;
    core_ = nullptr;
    if (t == nullptr)
        return;
    if (t->state != TcpState::Closed && t->state != TcpState::SynSent && t->state != TcpState::TimeWait)
        send_segment(*core, *t, t->snd_nxt, kTcpRst | kTcpAck, 0, 0);
    free_tcb(*t);
}

} // namespace ukrun::net
