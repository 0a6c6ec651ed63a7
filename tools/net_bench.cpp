// net-bench: a windowed UDP echo client and the host-side floors (UDP echo, keep-alive HTTP, a TAP responder) for scripts/bench-net.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

namespace {

volatile sig_atomic_t stop_requested = 0;

[[noreturn]] void fail(const std::string& what)
{
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

// Without SA_RESTART, so a blocking read or poll returns EINTR and the server loops see the flag.
void stop_on_sigterm()
{
    struct sigaction action {};
    action.sa_handler = [](int) { stop_requested = 1; };
    ::sigemptyset(&action.sa_mask);
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);
}

class Fd {
public:
    explicit Fd(int fd) : fd_(fd)
    {
        if (fd_ < 0)
            fail("socket");
    }
    ~Fd() { ::close(fd_); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

sockaddr_in parse_endpoint(const std::string& text)
{
    const auto colon = text.rfind(':');
    if (colon == std::string::npos)
        throw std::runtime_error("endpoint '" + text + "' is not ADDRESS:PORT");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(std::stoul(text.substr(colon + 1))));
    if (::inet_pton(AF_INET, text.substr(0, colon).c_str(), &address.sin_addr) != 1)
        throw std::runtime_error("bad IPv4 address in '" + text + "'");
    return address;
}

uint64_t now_ns()
{
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

double percentile_us(std::vector<uint64_t>& samples_ns, double p)
{
    if (samples_ns.empty())
        return 0;
    const auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(samples_ns.size() - 1) + 0.5);
    std::nth_element(samples_ns.begin(), samples_ns.begin() + static_cast<std::ptrdiff_t>(rank), samples_ns.end());
    return static_cast<double>(samples_ns[rank]) / 1000.0;
}

// Each datagram carries its epoch, sequence number and send time. A stall (no echo for
// `stall_ms`) counts the window as lost and starts a new epoch, so late echoes of the old
// one are ignored instead of widening the window.
struct Stamp {
    uint64_t epoch;
    uint64_t sequence;
    uint64_t sent_ns;
};

int udp_client(const std::string& target, std::size_t size, unsigned window, double seconds, int stall_ms)
{
    if (size < sizeof(Stamp) || size > 65000)
        throw std::runtime_error(fmt::format("--size must be {}..65000 bytes", sizeof(Stamp)));
    const sockaddr_in to = parse_endpoint(target);
    Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const int buffer_bytes = 4 << 20;
    ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
    ::setsockopt(sock.get(), SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof(buffer_bytes));
    if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0)
        fail("connect to " + target);

    std::vector<unsigned char> out(size, 0x5a), in(size + 64);
    uint64_t epoch = 0, sequence = 0, sent = 0, echoed = 0, lost = 0, late = 0;
    auto send_one = [&] {
        const Stamp stamp{epoch, sequence++, now_ns()};
        std::memcpy(out.data(), &stamp, sizeof(stamp));
        if (::send(sock.get(), out.data(), out.size(), 0) != static_cast<ssize_t>(out.size()))
            fail("send");
        ++sent;
    };
    auto wait_readable = [&](int timeout_ms) {
        pollfd p{sock.get(), POLLIN, 0};
        const int n = ::poll(&p, 1, timeout_ms);
        if (n < 0 && errno != EINTR)
            fail("poll");
        return n > 0;
    };

    // Warm-up: one echo must come back first (ARP, the far side's start-up), off the clock.
    bool warm = false;
    for (int attempt = 0; attempt < 20 && !warm; ++attempt) {
        send_one();
        warm = wait_readable(250) && ::recv(sock.get(), in.data(), in.size(), 0) > 0;
    }
    if (!warm)
        throw std::runtime_error("no echo from " + target + " within 5 s");
    while (::recv(sock.get(), in.data(), in.size(), MSG_DONTWAIT) > 0) {
    }

    std::vector<uint64_t> rtts;
    rtts.reserve(1 << 20);
    ++epoch;
    sent = 0;
    unsigned outstanding = 0;
    const uint64_t start = now_ns();
    const uint64_t end = start + static_cast<uint64_t>(seconds * 1e9);
    for (; outstanding < window; ++outstanding)
        send_one();
    uint64_t now = start;
    while ((now = now_ns()) < end) {
        if (!wait_readable(stall_ms)) {
            lost += outstanding;
            ++epoch;
            for (outstanding = 0; outstanding < window; ++outstanding)
                send_one();
            continue;
        }
        for (;;) {
            const ssize_t n = ::recv(sock.get(), in.data(), in.size(), MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n < 0)
                fail("recv");
            Stamp stamp{};
            if (static_cast<std::size_t>(n) < sizeof(stamp))
                continue;
            std::memcpy(&stamp, in.data(), sizeof(stamp));
            if (stamp.epoch != epoch) {
                ++late;
                continue;
            }
            const uint64_t received = now_ns();
            if (received >= end)
                break;
            ++echoed;
            rtts.push_back(received - stamp.sent_ns);
            --outstanding;
            send_one();
            ++outstanding;
        }
    }
    const double elapsed = static_cast<double>(now_ns() - start) / 1e9;
    const double p50 = percentile_us(rtts, 50), p99 = percentile_us(rtts, 99);
    fmt::print("udp size={} window={} seconds={:.3f} sent={} echoed={} lost={} late={} pps={:.0f} rtt_p50_us={:.1f} "
               "rtt_p99_us={:.1f}\n",
               size, window, elapsed, sent, echoed, lost, late, static_cast<double>(echoed) / elapsed, p50, p99);
    return 0;
}

// Plain recvfrom/sendto, one datagram at a time, as the guest does.
int udp_echo_server(const std::string& listen)
{
    stop_on_sigterm();
    const sockaddr_in address = parse_endpoint(listen);
    Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
        fail("bind " + listen);
    fmt::print("udp-echo: listening on {}\n", listen);
    std::fflush(stdout);
    std::vector<unsigned char> datagram(65536);
    uint64_t echoed = 0;
    while (!stop_requested) {
        sockaddr_in from{};
        socklen_t from_len = sizeof(from);
        const ssize_t n = ::recvfrom(sock.get(), datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&from),
                                     &from_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("recvfrom");
        }
        ::sendto(sock.get(), datagram.data(), static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from),
                 from_len);
        ++echoed;
    }
    fmt::print("udp-echo: echoed {} datagrams\n", echoed);
    return 0;
}

// The same page and JSON shape the http example serves, so responses are the same size.
const char kPage[] = "<!doctype html>\n<html><head><title>ukrun</title></head>\n"
                     "<body><h1>Hello from a ukrun unikernel</h1>\n"
                     "<p>This page was served by a single-purpose VM. See <a href=\"/status\">/status</a>.</p>\n"
                     "</body></html>\n";

std::string http_response(const std::string& target, uint64_t served, uint64_t start_ns)
{
    std::string type = "text/html; charset=utf-8", body = kPage;
    if (target == "/status") {
        type = "application/json";
        body = fmt::format("{{\"uptime_ms\":{},\"requests\":{}}}\n", (now_ns() - start_ns) / 1000000, served + 1);
    }
    return fmt::format("HTTP/1.1 200 OK\r\nServer: ukrun\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n{}", type,
                       body.size(), body);
}

// One thread, epoll, keep-alive: the least an HTTP/1.1 server over the kernel's TCP does per request.
int http_server(const std::string& listen)
{
    stop_on_sigterm();
    const sockaddr_in address = parse_endpoint(listen);
    Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    const int one = 1;
    ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener.get(), 128) != 0)
        fail("listen on " + listen);
    Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
    epoll_event event{EPOLLIN, {}};
    event.data.fd = listener.get();
    ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, listener.get(), &event);
    fmt::print("http: listening on {}\n", listen);
    std::fflush(stdout);

    std::map<int, std::string> pending;
    uint64_t served = 0;
    const uint64_t start_ns = now_ns();
    epoll_event ready[64];
    char buffer[16384];
    while (!stop_requested) {
        const int n = ::epoll_wait(epoll.get(), ready, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("epoll_wait");
        for (int i = 0; i < n; ++i) {
            const int fd = ready[i].data.fd;
            if (fd == listener.get()) {
                for (int client; (client = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
                    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    epoll_event add{EPOLLIN, {}};
                    add.data.fd = client;
                    ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, client, &add);
                    pending[client].clear();
                }
                continue;
            }
            ssize_t got = ::read(fd, buffer, sizeof(buffer));
            if (got < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            std::string& request = pending[fd];
            if (got > 0)
                request.append(buffer, static_cast<std::size_t>(got));
            std::string replies;
            for (std::size_t end; (end = request.find("\r\n\r\n")) != std::string::npos;) {
                const std::size_t space = request.find(' ');
                const std::size_t target_end = request.find(' ', space + 1);
                const std::string target = space < end && target_end < end
                                               ? request.substr(space + 1, target_end - space - 1)
                                               : std::string("/");
                replies += http_response(target, served++, start_ns);
                request.erase(0, end + 4);
            }
            // Responses are small; a full socket buffer here would mean a stuck client, so drop it.
            if (!replies.empty() && ::write(fd, replies.data(), replies.size()) != static_cast<ssize_t>(replies.size()))
                got = 0;
            if (got <= 0) {
                ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
                ::close(fd);
                pending.erase(fd);
            }
        }
    }
    fmt::print("http: served {} requests\n", served);
    return 0;
}

uint16_t checksum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

uint16_t read16(const unsigned char* p)
{
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

void swap_bytes(unsigned char* a, unsigned char* b, std::size_t n)
{
    for (std::size_t i = 0; i < n; ++i)
        std::swap(a[i], b[i]);
}

// Answers ARP for its address, ICMP echo and UDP on any port (echoed back) on a TAP, one
// read and one write per frame: what any user-space device behind a TAP pays, without KVM
// or a guest network stack.
int tap_responder(const std::string& tap, const std::string& ip)
{
    stop_on_sigterm();
    in_addr own{};
    if (::inet_pton(AF_INET, ip.c_str(), &own) != 1)
        throw std::runtime_error("bad IPv4 address " + ip);
    Fd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, tap.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0)
        fail("TUNSETIFF " + tap);
    const unsigned char mac[6] = {0x02, 0x00, 0x6e, 0x62, 0x00, 0x02};
    fmt::print("tap-responder: listening on {} as {}\n", tap, ip);
    std::fflush(stdout);

    unsigned char frame[65536];
    uint64_t answered = 0;
    while (!stop_requested) {
        const ssize_t got = ::read(fd.get(), frame, sizeof(frame));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            fail("read " + tap);
        const auto n = static_cast<std::size_t>(got);
        if (n < 14)
            continue;
        const uint16_t ethertype = read16(frame + 12);
        unsigned char* l3 = frame + 14;
        const std::size_t l3_len = n - 14;
        bool reply = false;
        if (ethertype == 0x0806 && l3_len >= 28 && read16(l3 + 6) == 1 && std::memcmp(l3 + 24, &own, 4) == 0) {
            l3[7] = 2; // ARP reply: the asker becomes the target, we the sender
            std::memcpy(l3 + 18, l3 + 8, 10);
            std::memcpy(l3 + 8, mac, 6);
            std::memcpy(l3 + 14, &own, 4);
            reply = true;
        } else if (ethertype == 0x0800 && l3_len >= 20 && std::memcmp(l3 + 16, &own, 4) == 0) {
            const std::size_t header = static_cast<std::size_t>(l3[0] & 0x0f) * 4;
            if (header < 20 || l3_len < header + 8)
                continue;
            unsigned char* l4 = l3 + header;
            if (l3[9] == 1 && l4[0] == 8) {
                l4[0] = 0; // echo reply; patch the checksum for the type change
                const uint32_t sum = static_cast<uint32_t>(static_cast<uint16_t>(~read16(l4 + 2))) + 0xf7ffu;
                const uint16_t folded = checksum_fold(sum);
                l4[2] = static_cast<unsigned char>(folded >> 8);
                l4[3] = static_cast<unsigned char>(folded);
                reply = true;
            } else if (l3[9] == 17) {
                swap_bytes(l4, l4 + 2, 2); // ports; swapping keeps the UDP checksum valid
                reply = true;
            }
            if (reply)
                swap_bytes(l3 + 12, l3 + 16, 4); // addresses; the header checksum is unchanged
        }
        if (!reply)
            continue;
        std::memcpy(frame, frame + 6, 6);
        std::memcpy(frame + 6, mac, 6);
        if (::write(fd.get(), frame, n) != got)
            fail("write " + tap);
        ++answered;
    }
    fmt::print("tap-responder: answered {} frames\n", answered);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"net-bench: UDP echo client and host-side floors for scripts/bench-net"};
    app.require_subcommand(1);

    std::string target;
    std::size_t size = 64;
    unsigned window = 32;
    double seconds = 5;
    int stall_ms = 200;
    auto* udp = app.add_subcommand("udp", "send datagrams with a window outstanding and count echoes per second");
    udp->add_option("--to", target, "ADDRESS:PORT of the echo server")->required();
    udp->add_option("--size", size, "datagram payload bytes")->capture_default_str();
    udp->add_option("--window", window, "datagrams outstanding")->capture_default_str()->check(CLI::Range(1u, 4096u));
    udp->add_option("--duration", seconds, "seconds to measure")->capture_default_str()->check(CLI::PositiveNumber);
    udp->add_option("--stall-ms", stall_ms, "a silence this long counts the window as lost")->capture_default_str();

    std::string listen;
    auto* echo = app.add_subcommand("udp-echo", "echo UDP datagrams until SIGTERM");
    echo->add_option("--listen", listen, "ADDRESS:PORT")->required();
    auto* http = app.add_subcommand("http", "serve the http example's page and /status with keep-alive until SIGTERM");
    http->add_option("--listen", listen, "ADDRESS:PORT")->required();

    std::string tap, ip;
    auto* responder = app.add_subcommand("tap-responder", "answer ARP, ICMP echo and UDP on a TAP until SIGTERM");
    responder->add_option("--tap", tap, "TAP interface")->required();
    responder->add_option("--ip", ip, "IPv4 address to answer for")->required();

    CLI11_PARSE(app, argc, argv);
    try {
        if (*udp)
            return udp_client(target, size, window, seconds, stall_ms);
        if (*echo)
            return udp_echo_server(listen);
        if (*http)
            return http_server(listen);
        return tap_responder(tap, ip);
    } catch (const std::exception& e) {
        fmt::print(stderr, "net-bench: {}\n", e.what());
        return 1;
    }
}
