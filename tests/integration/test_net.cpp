// Network tests: each boots a unikernel on a TAP inside its own network namespace and talks to it.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "background_process.hpp"
#include "net_namespace.hpp"

using namespace ukrun::test;

namespace {

std::string example(const std::string& name)
{
    return std::string(EXAMPLES_DIR) + "/" + name + "/" + name + ".elf";
}

// A unikernel serving on 10.0.0.2 behind tap0 (host side 10.0.0.1), ready to be talked to.
struct GuestOnTap {
    NetNamespace ns;
    std::unique_ptr<BackgroundProcess> ukrun;

    GuestOnTap(const std::string& elf, const std::string& ready, std::vector<std::string> extra_args = {},
               std::vector<std::string> options = {})
    {
        ns.add_tap("tap0", "10.0.0.1/24");
        std::vector<std::string> argv{UKRUN_BINARY, "--stats", "--net", "service=tap0"};
        argv.insert(argv.end(), options.begin(), options.end());
        argv.push_back(elf);
        argv.push_back("ip=10.0.0.2/24");
        argv.push_back("gw=10.0.0.1");
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        ukrun = std::make_unique<BackgroundProcess>(argv);
        INFO("stdout: " << ukrun->out() << "\nstderr: " << ukrun->err());
        REQUIRE(ukrun->wait_for_output(ready));
    }
};

class UdpClient {
public:
    UdpClient()
    {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        timeval tv{2, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    ~UdpClient() { ::close(fd_); }
    std::string round_trip(const std::string& message, uint16_t port)
    {
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(port);
        ::inet_pton(AF_INET, "10.0.0.2", &to.sin_addr);
        if (::sendto(fd_, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0)
            return "sendto failed";
        char buf[2048];
        const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        return n < 0 ? "timeout" : std::string(buf, static_cast<std::size_t>(n));
    }

private:
    int fd_;
};

double cpu_seconds(pid_t pid)
{
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14)
            utime = std::stoul(field);
        if (i == 15)
            stime = std::stoul(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

} // namespace

TEST_CASE("the ping example answers ARP and ICMP echo", "[net]")
{
    GuestOnTap guest(example("ping"), "listening");
    const ProcessResult ping = run_process({"/usr/bin/ping", "-c", "5", "-i", "0.2", "-W", "2", "10.0.0.2"});
    INFO("ping: " << ping.out << ping.err);
    CHECK(ping.exit_code == 0);
    CHECK_THAT(ping.out, Catch::Contains("5 received"));
    // Large payloads, near the MTU.
    const ProcessResult big = run_process({"/usr/bin/ping", "-c", "2", "-s", "1400", "-W", "2", "10.0.0.2"});
    CHECK(big.exit_code == 0);
    CHECK(guest.ukrun->stop() == 0);
    CHECK_THAT(guest.ukrun->err(), Catch::Contains("rx-frames=") && Catch::Contains("tx-frames="));
    // The reply leaves with the guest's next poll: one exit per echo, no notify of its own.
    const std::string& err = guest.ukrun->err();
    const auto total = err.find("total=");
    REQUIRE(total != std::string::npos);
    const unsigned long exits = std::stoul(err.substr(total + 6));
    const auto rx = err.find("rx-frames=");
    REQUIRE(rx != std::string::npos);
    const unsigned long frames_in = std::stoul(err.substr(rx + 10));
    INFO("stats: " << err);
    CHECK(frames_in >= 7);
    CHECK(exits <= frames_in + 4); // at most one exit per frame in, plus boot, shutdown and exit
    CHECK_THAT(err, Catch::Contains("notifications=0"));
}

TEST_CASE("the UDP echo example echoes datagrams", "[net]")
{
    GuestOnTap guest(example("udp-echo"), "listening");
    UdpClient client;
    for (int i = 0; i < 20; ++i) {
        const std::string message = "datagram " + std::to_string(i) + std::string(static_cast<std::size_t>(i * 50), 'x');
        CHECK(client.round_trip(message, 7) == message);
    }
    CHECK(guest.ukrun->stop() == 0);
}

TEST_CASE("an idle networked guest costs no CPU", "[net]")
{
    GuestOnTap guest(example("udp-echo"), "listening");
    UdpClient client;
    REQUIRE(client.round_trip("wake", 7) == "wake");
    const double before = cpu_seconds(guest.ukrun->pid());
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const double used = cpu_seconds(guest.ukrun->pid()) - before;
    INFO("CPU seconds used while idle for 2 s: " << used);
    CHECK(used < 0.05);
    CHECK(guest.ukrun->stop() == 0);
}

TEST_CASE("the HTTP example serves a page, a JSON status and 404s, with keep-alive", "[net]")
{
    GuestOnTap guest(example("http"), "listening");
    const ProcessResult page = run_process({"/usr/bin/curl", "-sS", "--max-time", "5", "http://10.0.0.2/"});
    INFO("curl: " << page.out << page.err);
    CHECK(page.exit_code == 0);
    CHECK_THAT(page.out, Catch::Contains("ukrun"));

    const ProcessResult status = run_process({"/usr/bin/curl", "-sS", "--max-time", "5", "http://10.0.0.2/status"});
    CHECK(status.exit_code == 0);
    CHECK_THAT(status.out, Catch::Contains("\"requests\"") && Catch::Contains("\"uptime_ms\""));

    const ProcessResult missing = run_process(
        {"/usr/bin/curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", "http://10.0.0.2/nope"});
    CHECK(missing.out == "404");

    // Two requests over one connection.
    const ProcessResult keep = run_process({"/usr/bin/curl", "-sSv", "--max-time", "5", "http://10.0.0.2/",
                                            "http://10.0.0.2/status"});
    CHECK(keep.exit_code == 0);
    CHECK_THAT(keep.err, Catch::Contains("Re-using existing connection"));
    CHECK(guest.ukrun->stop() == 0);
}

TEST_CASE("one guest with two NICs answers on both", "[net]")
{
    NetNamespace ns;
    ns.add_tap("tap0", "10.0.0.1/24");
    ns.add_tap("tap1", "10.1.0.1/24");
    BackgroundProcess ukrun({UKRUN_BINARY, "--net", "a=tap0", "--net", "b=tap1", guest_elf("net_two"),
                             "ip=10.0.0.2/24", "ip2=10.1.0.2/24"});
    INFO("stdout: " << ukrun.out() << "\nstderr: " << ukrun.err());
    REQUIRE(ukrun.wait_for_output("listening"));
    CHECK(run_process({"/usr/bin/ping", "-c", "2", "-W", "2", "10.0.0.2"}).exit_code == 0);
    CHECK(run_process({"/usr/bin/ping", "-c", "2", "-W", "2", "10.1.0.2"}).exit_code == 0);
    CHECK(ukrun.stop() == 0);
}

TEST_CASE("malformed frames from the host are dropped, never fatal", "[net]")
{
    GuestOnTap guest(example("ping"), "listening");
    // First learn the guest's MAC through a normal exchange.
    REQUIRE(run_process({"/usr/bin/ping", "-c", "1", "-W", "2", "10.0.0.2"}).exit_code == 0);

    const int sock = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    REQUIRE(sock >= 0);
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_ifindex = static_cast<int>(::if_nametoindex("tap0"));
    addr.sll_halen = 6;
    std::memset(addr.sll_addr, 0xff, 6);
    auto frame = [](uint16_t ethertype, std::vector<uint8_t> payload) {
        std::vector<uint8_t> f(12, 0xff); // broadcast destination, broadcast-ish source
        f[6] = 0x02;
        f.push_back(static_cast<uint8_t>(ethertype >> 8));
        f.push_back(static_cast<uint8_t>(ethertype));
        f.insert(f.end(), payload.begin(), payload.end());
        return f;
    };
    std::vector<std::vector<uint8_t>> bad = {
        frame(0x0800, {0x45}),                                   // IPv4 header cut short
        frame(0x0800, std::vector<uint8_t>(40, 0x41)),           // IHL 1
        frame(0x0800, {0x4f, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}), // IHL 15 > length
        frame(0x0806, {0, 1, 8, 0, 6}),                          // ARP cut short
        frame(0x0806, std::vector<uint8_t>(28, 0xee)),           // ARP with nonsense sizes
        frame(0x86dd, std::vector<uint8_t>(60, 0)),              // IPv6: not spoken
        frame(0x0800, {0x45, 0, 0, 28, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2, 0, 0, 0, 0}),
    };
    for (int round = 0; round < 20; ++round)
        for (const auto& f : bad)
            ::sendto(sock, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::close(sock);

    CHECK(guest.ukrun->running());
    const ProcessResult ping = run_process({"/usr/bin/ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"});
    CHECK(ping.exit_code == 0);
    CHECK(guest.ukrun->stop() == 0);
    INFO("stdout: " << guest.ukrun->out());
    CHECK_THAT(guest.ukrun->out(), Catch::Contains("dropped"));
}

TEST_CASE("malformed frames from the guest are dropped and counted by the monitor", "[net]")
{
    NetNamespace ns;
    ns.add_tap("tap0", "10.0.0.1/24");
    const ProcessResult r = run_process({UKRUN_BINARY, "--stats", "--net", "service=tap0",
                                         guest_elf("nic_bad_frames")});
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("nic_bad_frames: ok"));
    CHECK_THAT(r.err, Catch::Contains("tx-dropped=2"));
}

TEST_CASE("a missing TAP backing or an undeclared NIC is refused before boot", "[net]")
{
    NetNamespace ns;
    const ProcessResult none = run_process({UKRUN_BINARY, example("ping"), "ip=10.0.0.2/24"});
    CHECK(none.exit_code == 122);
    CHECK_THAT(none.err, Catch::Contains("net device 'service' but no backing"));
    const ProcessResult extra = run_process({UKRUN_BINARY, "--net", "other=tap9", example("ping"), "ip=10.0.0.2/24"});
    CHECK(extra.exit_code == 122);
    CHECK_THAT(extra.err, Catch::Contains("declares no device named 'other'"));
    const ProcessResult bad_fd = run_process({UKRUN_BINARY, "--net", "service=@0", example("ping"), "ip=10.0.0.2/24"});
    CHECK(bad_fd.exit_code == 122);
    CHECK_THAT(bad_fd.err, Catch::Contains("is not a TAP device"));
}
