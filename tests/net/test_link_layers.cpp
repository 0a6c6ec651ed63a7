// Tests of configuration parsing, ARP, ICMP echo and UDP between two stacks.
#include <catch2/catch.hpp>

#include <string>

#include "net_harness.hpp"

using namespace net_test;

TEST_CASE("ip= and gw= are parsed from the command line")
{
    Ipv4Config config;
    REQUIRE(parse_ipv4_config("ip=10.0.0.2/24 gw=10.0.0.1", config));
    CHECK(config.address == ipv4(10, 0, 0, 2));
    CHECK(config.prefix_length == 24);
    CHECK(config.gateway == ipv4(10, 0, 0, 1));

    const char* argv[] = {"server.elf", "--verbose", "ip=192.168.1.77/16", "port=80"};
    REQUIRE(parse_ipv4_config(4, argv, config));
    CHECK(config.address == ipv4(192, 168, 1, 77));
    CHECK(config.prefix_length == 16);
    CHECK(config.gateway == 0);

    for (const char* bad : {"", "gw=10.0.0.1", "ip=10.0.0.2", "ip=10.0.0.2/0", "ip=10.0.0.2/33",
                            "ip=10.0.0.256/24", "ip=10.0.0/24", "ip=10.0.0.2.1/24", "ip=10.0.0.255/24",
                            "ip=0.0.0.0/8", "ip=10.0.0.2/24 gw=10.0.0", "ip=10.0.0.2/24x", "ip=1x.0.0.2/24"}) {
        INFO(bad);
        CHECK_FALSE(parse_ipv4_config(bad, config));
    }
    Ipv4Address address = 0;
    CHECK(parse_ipv4("255.255.255.255", address));
    CHECK(address == 0xffffffffu);
    CHECK_FALSE(parse_ipv4("1.2.3.4 ", address));
}

TEST_CASE("init refuses an unusable configuration")
{
    MemoryLink link;
    Stack stack;
    StackConfig config;
    config.link = &link;
    config.clock = fake_clock;
    CHECK(stack.init(config) == Error::InvalidArgument); // no address
    config.ipv4 = Ipv4Config{ipv4(10, 0, 0, 2), 24, 0};
    config.mtu = 9000;
    REQUIRE(stack.init(config) == Error::None);
    CHECK(stack.mtu() == kMaxMtu);
    CHECK(stack.init(config) == Error::InvalidArgument); // twice
}

TEST_CASE("ARP resolves the peer and ping gets its echo reply")
{
    Network net;
    const uint8_t payload[32] = {1, 2, 3};
    REQUIRE(net.a.stack.ping(net.b.address, 7, 1, payload, sizeof payload) == Error::None);
    // The echo request waits for ARP; only the broadcast request is on the wire.
    REQUIRE(net.a.link.queue.size() == 1);
    const Frame& request = net.a.link.queue.front();
    CHECK(is_arp(request));
    CHECK(request.size() == 60); // padded to the Ethernet minimum
    CHECK(std::memcmp(request.data(), "\xff\xff\xff\xff\xff\xff", 6) == 0);
    CHECK(get32(request, kEth + 24) == net.b.address);

    net.pump();
    MacAddress mac{};
    REQUIRE(net.a.stack.arp_lookup(net.b.address, mac));
    CHECK(std::memcmp(mac.bytes, net.b.mac.bytes, 6) == 0);
    REQUIRE(net.b.stack.arp_lookup(net.a.address, mac)); // learned from the request
    CHECK(std::memcmp(mac.bytes, net.a.mac.bytes, 6) == 0);

    EchoReply reply;
    REQUIRE(net.a.stack.take_echo_reply(reply));
    CHECK(reply.from == net.b.address);
    CHECK(reply.id == 7);
    CHECK(reply.sequence == 1);
    CHECK(reply.payload_len == sizeof payload);
    CHECK_FALSE(net.a.stack.take_echo_reply(reply));

    // Resolved now: the next ping goes straight out.
    REQUIRE(net.a.stack.ping(net.b.address, 7, 2, nullptr, 0) == Error::None);
    REQUIRE(net.a.link.queue.size() == 1);
    CHECK(ip_protocol(net.a.link.queue.front()) == 1);
    net.pump();
    REQUIRE(net.a.stack.take_echo_reply(reply));
    CHECK(reply.sequence == 2);
    CHECK(net.a.stack.stats().dropped() == 0);
    CHECK(net.b.stack.stats().dropped() == 0);
}

TEST_CASE("ARP retries, then gives up and drops the waiting packets")
{
    Network net;
    const Ipv4Address nobody = ipv4(10, 0, 0, 99);
    REQUIRE(net.a.stack.ping(nobody, 1, 1, nullptr, 0) == Error::None);
    net.pump(); // b ignores a request for another address
    CHECK(net.a.link.sent == 1);
    net.advance(10 * kSec);
    CHECK(net.a.link.sent == 3); // three requests, a second apart
    CHECK(net.a.stack.stats().arp_unresolved == 1);
    CHECK(net.a.stack.next_timer_deadline() == UINT64_MAX);
}

TEST_CASE("the ARP wait queue is bounded")
{
    Network net;
    UdpSocket socket;
    REQUIRE(net.a.stack.udp_bind(0, socket) == Error::None);
    const Endpoint nobody{ipv4(10, 0, 0, 99), 9};
    size_t refused = 0;
    for (int i = 0; i < 12; ++i)
        refused += socket.send_to(nobody, "x", 1) == Error::NoResources;
    CHECK(refused == 12 - kArpPendingPackets);
    CHECK(net.a.stack.stats().arp_queue_full == refused);
}

TEST_CASE("off-subnet destinations go through the gateway, or nowhere without one")
{
    Network net;
    REQUIRE(net.a.stack.ping(ipv4(8, 8, 8, 8), 1, 1, nullptr, 0) == Error::None);
    REQUIRE(net.a.link.queue.size() == 1);
    CHECK(get32(net.a.link.queue.front(), kEth + 24) == ipv4(10, 0, 0, 1));

    MemoryLink link;
    Stack isolated;
    StackConfig config;
    config.link = &link;
    config.clock = fake_clock;
    config.ipv4 = Ipv4Config{ipv4(10, 0, 0, 5), 24, 0};
    REQUIRE(isolated.init(config) == Error::None);
    CHECK(isolated.ping(ipv4(8, 8, 8, 8), 1, 1, nullptr, 0) == Error::Unreachable);
    CHECK(isolated.stats().ip_no_route == 1);
    TcpConnection connection;
    CHECK(isolated.tcp_connect({ipv4(8, 8, 8, 8), 80}, connection) == Error::Unreachable);
}

TEST_CASE("UDP datagrams flow both ways")
{
    Network net;
    UdpSocket server;
    UdpSocket client;
    REQUIRE(net.b.stack.udp_bind(5000, server) == Error::None);
    REQUIRE(net.a.stack.udp_bind(0, client) == Error::None);
    CHECK(client.local_port() >= 49152);
    UdpSocket duplicate;
    CHECK(net.b.stack.udp_bind(5000, duplicate) == Error::AddressInUse);

    char buffer[2048];
    Endpoint from;
    CHECK(server.receive_from(buffer, sizeof buffer, &from).error == Error::WouldBlock);
    REQUIRE(client.send_to({net.b.address, 5000}, "hello", 5) == Error::None);
    REQUIRE(client.send_to({net.b.address, 5000}, "", 0) == Error::None);
    net.pump();
    REQUIRE(server.readable());
    IoResult r = server.receive_from(buffer, sizeof buffer, &from);
    REQUIRE(r.error == Error::None);
    CHECK(std::string(buffer, r.bytes) == "hello");
    CHECK(from.address == net.a.address);
    CHECK(from.port == client.local_port());
    r = server.receive_from(buffer, sizeof buffer, &from); // the empty datagram
    CHECK(r.error == Error::None);
    CHECK(r.bytes == 0);

    const Frame big = pattern(1472, 5);
    REQUIRE(server.send_to(from, big.data(), big.size()) == Error::None);
    CHECK(server.send_to(from, big.data(), big.size() + 1) == Error::MessageTooLong);
    net.pump();
    r = client.receive_from(buffer, 100, &from); // cut to the buffer, the rest discarded
    CHECK(r.bytes == 100);
    CHECK(std::memcmp(buffer, big.data(), 100) == 0);
    CHECK(from.port == 5000);
    CHECK_FALSE(client.readable());

    // Closed sockets and closed ports.
    server.close();
    CHECK_FALSE(server.valid());
    CHECK(server.send_to(from, "x", 1) == Error::NotConnected);
    REQUIRE(client.send_to({net.b.address, 5000}, "late", 4) == Error::None);
    net.pump();
    CHECK(net.b.stack.stats().udp_no_socket == 1);
}

TEST_CASE("a full UDP receive queue drops and counts")
{
    Network net;
    UdpSocket server;
    UdpSocket client;
    REQUIRE(net.b.stack.udp_bind(7, server) == Error::None);
    REQUIRE(net.a.stack.udp_bind(0, client) == Error::None);
    const Frame data = pattern(1000, 1);
    for (int i = 0; i < 20; ++i) {
        REQUIRE(client.send_to({net.b.address, 7}, data.data(), data.size()) == Error::None);
        net.pump();
    }
    const size_t fits = kUdpQueueBytes / (data.size() + 8);
    CHECK(net.b.stack.stats().udp_queue_full == 20 - fits);
    size_t received = 0;
    char buffer[1500];
    while (server.receive_from(buffer, sizeof buffer, nullptr).error == Error::None)
        ++received;
    CHECK(received == fits);
}
