// Tests of TCP between two stacks: handshakes, transfers, flow control, closes, resets and loss.
#include <catch2/catch.hpp>

#include <string>

#include "net_harness.hpp"

using namespace net_test;

namespace {

constexpr uint16_t kPort = 8080;

struct Pair {
    TcpConnection client; // on a
    TcpConnection server; // on b
};

// b listens, a connects; both ends established.
Pair connect_pair(Network& net, TcpListener& listener, uint16_t port = kPort)
{
    if (!listener.valid())
        REQUIRE(net.b.stack.tcp_listen(port, 8, listener) == Error::None);
    Pair pair;
    REQUIRE(net.a.stack.tcp_connect({net.b.address, port}, pair.client) == Error::None);
    REQUIRE(net.run_until([&] { return listener.pending(); }));
    REQUIRE(listener.accept(pair.server) == Error::None);
    REQUIRE(pair.client.state() == TcpState::Established);
    REQUIRE(pair.server.state() == TcpState::Established);
    return pair;
}

// Writes all of data into one end and reads it from the other, reading at most
// read_chunk bytes per round so that a slow reader closes the window.
Frame transfer(Network& net, TcpConnection& from, TcpConnection& to, const Frame& data, size_t read_chunk)
{
    Frame received;
    size_t written = 0;
    std::vector<uint8_t> buffer(read_chunk);
    const bool ok = net.run_until(
        [&] {
            if (written < data.size()) {
                const IoResult w = from.write(data.data() + written, data.size() - written);
                if (w.error == Error::None)
                    written += w.bytes;
            }
            const IoResult r = to.read(buffer.data(), buffer.size());
            if (r.error == Error::None)
                received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<long>(r.bytes));
            return received.size() == data.size();
        },
        600 * kSec, kMs);
    REQUIRE(ok);
    return received;
}

std::string read_all(TcpConnection& c)
{
    std::string text;
    char buffer[256];
    for (;;) {
        const IoResult r = c.read(buffer, sizeof buffer);
        if (r.error != Error::None)
            return text;
        text.append(buffer, r.bytes);
    }
}

} // namespace

TEST_CASE("TCP handshake, endpoints and a few bytes both ways")
{
    Network net;
    TcpListener listener;
    Pair p = connect_pair(net, listener);
    CHECK(p.client.remote().address == net.b.address);
    CHECK(p.client.remote().port == kPort);
    CHECK(p.server.remote().address == net.a.address);
    CHECK(p.server.remote().port == p.client.local().port);
    CHECK(p.server.local().port == kPort);
    CHECK(p.client.writable());
    CHECK_FALSE(p.server.readable());

    char buffer[64];
    CHECK(p.server.read(buffer, sizeof buffer).error == Error::WouldBlock);
    REQUIRE(p.client.write("ping", 4).bytes == 4);
    net.pump();
    CHECK(read_all(p.server) == "ping");
    REQUIRE(p.server.write("pong!", 5).bytes == 5);
    net.pump();
    CHECK(read_all(p.client) == "pong!");
    CHECK(p.client.unsent_bytes() == 0);
    CHECK(net.a.stack.stats().dropped() == 0);
    CHECK(net.b.stack.stats().dropped() == 0);
}

TEST_CASE("the MSS option limits segment size")
{
    Network net(576); // a and b both at the minimum MTU: MSS 536
    TcpListener listener;
    Pair p = connect_pair(net, listener);
    size_t largest = 0;
    net.a.link.drop = [&](const Frame& f, size_t) {
        if (is_tcp(f) && tcp_payload_len(f) > largest)
            largest = tcp_payload_len(f);
        return false;
    };
    const Frame data = pattern(10000, 3);
    CHECK(transfer(net, p.client, p.server, data, 65536) == data);
    CHECK(largest == 536);
}

TEST_CASE("1 MiB each way through 64 KiB windows with slow readers")
{
    Network net;
    TcpListener listener;
    Pair p = connect_pair(net, listener);
    const Frame up = pattern(1 << 20, 1);
    const Frame down = pattern(1 << 20, 2);
    Frame got_up;
    Frame got_down;
    size_t written_up = 0;
    size_t written_down = 0;
    uint32_t max_window_seen = 0;
    net.a.link.drop = [&](const Frame& f, size_t) {
        if (is_tcp(f) && get16(f, kL4 + 14) > max_window_seen)
            max_window_seen = get16(f, kL4 + 14);
        return false;
    };
    std::vector<uint8_t> buffer(3000);
    REQUIRE(net.run_until(
        [&] {
            if (written_up < up.size())
                written_up += p.client.write(up.data() + written_up, up.size() - written_up).bytes;
            if (written_down < down.size())
                written_down += p.server.write(down.data() + written_down, down.size() - written_down).bytes;
            IoResult r = p.server.read(buffer.data(), buffer.size());
            got_up.insert(got_up.end(), buffer.begin(), buffer.begin() + static_cast<long>(r.bytes));
            r = p.client.read(buffer.data(), 1000);
            got_down.insert(got_down.end(), buffer.begin(), buffer.begin() + static_cast<long>(r.bytes));
            return got_up.size() == up.size() && got_down.size() == down.size();
        },
        600 * kSec, kMs));
    CHECK(got_up == up);
    CHECK(got_down == down);
    CHECK(max_window_seen <= 65535);
    CHECK(net.a.stack.stats().tcp_retransmits == 0);
    CHECK(net.b.stack.stats().tcp_out_of_order == 0);
}

TEST_CASE("several connections at once keep their data apart")
{
    Network net;
    TcpListener listener;
    REQUIRE(net.b.stack.tcp_listen(kPort, 8, listener) == Error::None);
    constexpr size_t count = 8;
    std::vector<Pair> pairs(count);
    for (auto& pair : pairs)
        REQUIRE(net.a.stack.tcp_connect({net.b.address, kPort}, pair.client) == Error::None);
    net.pump();
    for (auto& pair : pairs)
        REQUIRE(listener.accept(pair.server) == Error::None);
    TcpConnection extra;
    CHECK(listener.accept(extra) == Error::WouldBlock);

    std::vector<Frame> sent(count);
    std::vector<Frame> got(count);
    std::vector<size_t> written(count, 0);
    for (size_t i = 0; i < count; ++i)
        sent[i] = pattern(100000 + i * 777, static_cast<uint32_t>(i + 10));
    std::vector<uint8_t> buffer(4096);
    REQUIRE(net.run_until(
        [&] {
            bool done = true;
            for (size_t i = 0; i < count; ++i) {
                // Each client's server is matched by port, as accept order is arrival order.
                TcpConnection* server = nullptr;
                for (auto& pair : pairs)
                    if (pair.server.remote().port == pairs[i].client.local().port)
                        server = &pair.server;
                REQUIRE(server != nullptr);
                written[i] += pairs[i].client.write(sent[i].data() + written[i], sent[i].size() - written[i]).bytes;
                const IoResult r = server->read(buffer.data(), buffer.size());
                got[i].insert(got[i].end(), buffer.begin(), buffer.begin() + static_cast<long>(r.bytes));
                done = done && got[i].size() == sent[i].size();
            }
            return done;
        },
        600 * kSec, kMs));
    for (size_t i = 0; i < count; ++i)
        CHECK(got[i] == sent[i]);
}

TEST_CASE("the client closes first: FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT")
{
    Network net;
    TcpListener listener;
    Pair p = connect_pair(net, listener);
    REQUIRE(p.client.write("bye", 3).bytes == 3);
    REQUIRE(p.client.shutdown_write() == Error::None);
    CHECK(p.client.state() == TcpState::FinWait1);
    CHECK(p.client.write("x", 1).error == Error::NotConnected);
    net.pump();
    CHECK(p.client.state() == TcpState::FinWait2);
    CHECK(p.server.state() == TcpState::CloseWait);
    CHECK(p.server.peer_closed());
    CHECK(read_all(p.server) == "bye");
    char c;
    CHECK(p.server.read(&c, 1).error == Error::EndOfStream);

    // Half-closed: the server can still send.
    REQUIRE(p.server.write("tail", 4).bytes == 4);
    net.pump();
    CHECK(read_all(p.client) == "tail");

    p.server.close();
    CHECK_FALSE(p.server.valid());
    net.pump();
    CHECK(p.client.state() == TcpState::TimeWait);
    CHECK(p.client.read(&c, 1).error == Error::EndOfStream);
    net.advance(2 * kSec);
    CHECK(p.client.state() == TcpState::Closed);
    CHECK(p.client.error() == Error::None);
    p.client.close();
    CHECK(net.a.stack.next_timer_deadline() == UINT64_MAX);
    CHECK(net.b.stack.next_timer_deadline() == UINT64_MAX);
}

TEST_CASE("the server closes first, and the client's close() finishes on its own")
{
    Network net;
    TcpListener listener;
    Pair p = connect_pair(net, listener);
    REQUIRE(p.server.write("done", 4).bytes == 4);
    p.server.close();
    net.pump();
    CHECK(p.client.state() == TcpState::CloseWait);
    CHECK(read_all(p.client) == "done");
    p.client.close();
    net.pump();
    net.advance(2 * kSec);
    CHECK(net.a.stack.next_timer_deadline() == UINT64_MAX);
    CHECK(net.b.stack.next_timer_deadline() == UINT64_MAX);
    // Every slot is free again: a full set of new connections fits.
    std::vector<TcpConnection> again(kMaxTcpConnections);
    for (auto& c : again)
        CHECK(net.a.stack.tcp_connect({net.b.address, kPort}, c) == Error::None);
}

TEST_CASE("simultaneous close goes through CLOSING")
{
    Network net;
    TcpListener listener;
    Pair p = connect_pair(net, listener);
    REQUIRE(p.client.shutdown_write() == Error::None);
    REQUIRE(p.server.shutdown_write() == Error::None);
    net.pump();
    CHECK(p.client.state() == TcpState::TimeWait);
    CHECK(p.server.state() == TcpState::TimeWait);
    net.advance(2 * kSec);
    CHECK(p.client.state() == TcpState::Closed);
    CHECK(p.server.state() == TcpState::Closed);
}

TEST_CASE("a SYN to a closed port is answered with RST: connection refused")
{
    Network net;
    TcpConnection c;
    REQUIRE(net.a.stack.tcp_connect({net.b.address, 81}, c) == Error::None);
    net.pump();
    CHECK(c.state() == TcpState::Closed);
    CHECK(c.error() == Error::ConnectionRefused);
    char buffer[8];
    CHECK(c.read(buffer, sizeof buffer).error == Error::ConnectionRefused);
    CHECK(net.b.stack.stats().tcp_no_connection == 1);
    CHECK(net.b.stack.stats().tcp_resets_sent == 1);
}

TEST_CASE("abort() resets the peer")
{
    Network net;
    TcpListener listener;
    Pair p = connect_pair(net, listener);
    p.client.abort();
    CHECK_FALSE(p.client.valid());
    net.pump();
    CHECK(p.server.state() == TcpState::Closed);
    CHECK(p.server.error() == Error::ConnectionReset);
    CHECK(p.server.write("x", 1).error == Error::ConnectionReset);
    // A stale segment for the forgotten connection draws a RST from a.
    const uint64_t resets = net.a.stack.stats().tcp_resets_sent;
    listener.close();
    CHECK_FALSE(listener.valid());
    TcpConnection late;
    REQUIRE(net.a.stack.tcp_connect({net.b.address, kPort}, late) == Error::None);
    net.pump();
    CHECK(late.error() == Error::ConnectionRefused);
    CHECK(net.a.stack.stats().tcp_resets_sent == resets);
}

TEST_CASE("a RST out of the window is not obeyed")
{
    Network net;
    TcpListener listener;
    Pair p = connect_pair(net, listener);
    // Capture a segment from a to b, turn it into a RST with a shifted sequence number.
    REQUIRE(p.client.write("a", 1).bytes == 1);
    REQUIRE(net.a.link.queue.size() == 1);
    Frame rst = net.a.link.queue.front();
    net.pump();
    rst[kL4 + 13] = 0x04;
    const uint32_t seq = get32(rst, kL4 + 4) + 1 + 100000;
    put16(rst, kL4 + 4, static_cast<uint16_t>(seq >> 16));
    put16(rst, kL4 + 6, static_cast<uint16_t>(seq));
    put16(rst, kIp + 2, 40);
    rst.resize(kL4 + 20);
    fix_ip_checksum(rst);
    fix_l4_checksum(rst);
    net.b.stack.receive_frame(rst.data(), rst.size());
    CHECK(p.server.state() == TcpState::Established);
}

TEST_CASE("a lost segment is retransmitted after the RTO, whichever segment it is")
{
    for (size_t nth = 1; nth <= 8; ++nth) {
        DYNAMIC_SECTION("frame " << nth << " from a is lost")
        {
            Network net;
            // Frame 1 is the ARP request; then SYN, ACK, data...
            net.a.link.drop = [nth](const Frame&, size_t index) { return index == nth; };
            TcpListener listener;
            REQUIRE(net.b.stack.tcp_listen(kPort, 4, listener) == Error::None);
            Pair p;
            REQUIRE(net.a.stack.tcp_connect({net.b.address, kPort}, p.client) == Error::None);
            const Frame data = pattern(20000, 9);
            size_t written = 0;
            Frame got;
            char buffer[4096];
            REQUIRE(net.run_until([&] {
                if (!p.server.valid())
                    listener.accept(p.server);
                if (written < data.size())
                    written += p.client.write(data.data() + written, data.size() - written).bytes;
                const IoResult r = p.server.read(buffer, sizeof buffer);
                got.insert(got.end(), buffer, buffer + r.bytes);
                return got.size() == data.size();
            }));
            CHECK(got == data);
            CHECK(net.a.link.dropped == 1);
            if (nth != 3) // a lost handshake ACK is repaired by the data that follows
                CHECK(net.a.stack.stats().tcp_retransmits + net.a.stack.stats().arp_unresolved +
                          net.b.stack.stats().tcp_retransmits >= 1);
        }
    }
}

TEST_CASE("the RTO backs off exponentially")
{
    Network net;
    TcpListener listener;
    Pair p = connect_pair(net, listener);
    std::vector<uint64_t> sends;
    net.a.link.drop = [&](const Frame& f, size_t) {
        if (is_tcp(f) && tcp_payload_len(f) != 0)
            sends.push_back(fake_now);
        return is_tcp(f); // a black hole, though ARP still answers
    };
    REQUIRE(p.client.write("x", 1).bytes == 1);
    net.advance(1000 * kSec);
    REQUIRE(sends.size() == 11); // the original and ten retransmissions
    for (size_t i = 2; i < 7; ++i)
        CHECK(sends[i] - sends[i - 1] == 2 * (sends[i - 1] - sends[i - 2]));
    CHECK(sends[1] - sends[0] == 200 * kMs); // the initial RTO
    CHECK(p.client.state() == TcpState::Closed);
    CHECK(p.client.error() == Error::TimedOut);
}

TEST_CASE("a connect nobody answers times out")
{
    Network net;
    net.a.link.drop = [](const Frame& f, size_t) { return is_tcp(f); };
    TcpConnection c;
    REQUIRE(net.a.stack.tcp_connect({net.b.address, kPort}, c) == Error::None);
    REQUIRE(net.run_until([&] { return c.state() == TcpState::Closed; }, 600 * kSec, 100 * kMs));
    CHECK(c.error() == Error::TimedOut);
}

TEST_CASE("a zero window stalls the sender until the reader makes room")
{
    Network net;
    TcpListener listener;
    Pair p = connect_pair(net, listener);
    const Frame data = pattern(200000, 4);
    size_t written = 0;
    auto fill = [&] {
        while (written < data.size()) {
            const IoResult w = p.client.write(data.data() + written, data.size() - written);
            if (w.error != Error::None)
                break;
            written += w.bytes;
        }
    };
    fill();
    net.pump();
    fill();
    net.pump();
    CHECK(written == 2 * kTcpBufferBytes); // the server's buffer, then the client's
    CHECK(p.client.unsent_bytes() == kTcpBufferBytes);
    CHECK_FALSE(p.client.writable());

    // While the window is shut the client probes, backing off, and sends no data.
    size_t probes = 0;
    size_t data_frames = 0;
    net.a.link.drop = [&](const Frame& f, size_t) {
        if (is_tcp(f))
            (tcp_payload_len(f) == 0 ? probes : data_frames)++;
        return false;
    };
    net.advance(30 * kSec);
    CHECK(probes >= 4);
    CHECK(probes <= 10);
    CHECK(data_frames == 0);

    SECTION("the window update after a read restarts the transfer")
    {
        Frame got;
        std::vector<uint8_t> buffer(65536);
        REQUIRE(net.run_until([&] {
            fill();
            const IoResult r = p.server.read(buffer.data(), buffer.size());
            got.insert(got.end(), buffer.begin(), buffer.begin() + static_cast<long>(r.bytes));
            return got.size() >= data.size();
        }));
        CHECK(got == data);
    }
    SECTION("a lost window update is recovered by the probe")
    {
        net.b.link.drop = [](const Frame& f, size_t) { return is_tcp(f) && get16(f, kL4 + 14) != 0; };
        std::vector<uint8_t> sink(65536);
        REQUIRE(p.server.read(sink.data(), sink.size()).bytes == 65536);
        net.pump();
        CHECK(p.client.unsent_bytes() == kTcpBufferBytes); // nothing moved yet
        net.b.link.drop = nullptr;
        net.advance(11 * kSec);
        CHECK(p.client.unsent_bytes() < kTcpBufferBytes);
    }
}

TEST_CASE("a full backlog drops SYNs until accept() makes room")
{
    Network net;
    TcpListener listener;
    REQUIRE(net.b.stack.tcp_listen(kPort, 2, listener) == Error::None);
    TcpConnection clients[3];
    for (auto& c : clients)
        REQUIRE(net.a.stack.tcp_connect({net.b.address, kPort}, c) == Error::None);
    net.pump();
    CHECK(net.b.stack.stats().tcp_backlog_full == 1);
    CHECK(clients[2].state() == TcpState::SynSent);
    TcpConnection server;
    REQUIRE(listener.accept(server) == Error::None);
    REQUIRE(net.run_until([&] { return clients[2].state() == TcpState::Established; }));
    CHECK(net.a.stack.stats().tcp_retransmits >= 1);
}

TEST_CASE("closing a listener resets what waits in its backlog")
{
    Network net;
    TcpListener listener;
    REQUIRE(net.b.stack.tcp_listen(kPort, 4, listener) == Error::None);
    TcpListener twice;
    CHECK(net.b.stack.tcp_listen(kPort, 4, twice) == Error::AddressInUse);
    TcpConnection c;
    REQUIRE(net.a.stack.tcp_connect({net.b.address, kPort}, c) == Error::None);
    net.pump();
    REQUIRE(c.state() == TcpState::Established);
    listener.close();
    net.pump();
    CHECK(c.state() == TcpState::Closed);
    CHECK(c.error() == Error::ConnectionReset);
}

TEST_CASE("stale handles fail cleanly")
{
    Network net;
    TcpListener listener;
    Pair p = connect_pair(net, listener);
    TcpConnection copy = p.client;
    p.client.abort();
    char c;
    CHECK(copy.read(&c, 1).error == Error::NotConnected);
    CHECK(copy.write(&c, 1).error == Error::NotConnected);
    CHECK(copy.state() == TcpState::Closed);
    CHECK_FALSE(copy.valid());
    TcpConnection empty;
    CHECK(empty.error() == Error::NotConnected);
    empty.close();
    empty.abort();
    UdpSocket socket;
    CHECK(socket.send_to({1, 1}, "", 0) == Error::NotConnected);
}
