// Hypercall handlers: console, clocks, poll, exit, abort, device notification.
#include "hypercalls.hpp"

#include <time.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "errors.hpp"
#include "shutdown_signal.hpp"

namespace ukrun {

namespace {

void write_all(int fd, const std::byte* data, std::size_t len)
{
    while (len > 0) {
        const ssize_t n = ::write(fd, data, len);
        if (n < 0) {
            // A stalled reader must not keep a stopping VM alive past its grace period.
            if (errno == EINTR && !ShutdownSignal::grace_expired())
                continue;
            return; // a closed or broken console does not stop the unikernel
        }
        data += n;
        len -= static_cast<std::size_t>(n);
    }
}

// Keeps a guest-supplied message on one printable line.
std::string printable(std::span<const std::byte> bytes)
{
    std::string out;
    out.reserve(bytes.size());
    for (std::byte b : bytes) {
        const auto c = static_cast<unsigned char>(b);
        out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
    }
    while (!out.empty() && out.back() == '?')
        out.pop_back();
    return out;
}

template <class Arg>
Arg read_arg(const GuestMemory& memory, GuestAddr arg, const char* name)
{
    try {
        return memory.read<Arg>(arg);
    } catch (const GuestViolation& e) {
        throw GuestViolation(fmt::format("{} hypercall: argument struct at 0x{:x}: {}", name, arg.value, e.what()));
    }
}

} // namespace

const char* hypercall_name(uint32_t number)
{
    switch (number) {
    case UKRUN_HC_CONSOLE_WRITE: return "console-write";
    case UKRUN_HC_WALL_CLOCK: return "wall-clock";
    case UKRUN_HC_POLL: return "poll";
    case UKRUN_HC_EXIT: return "exit";
    case UKRUN_HC_ABORT: return "abort";
    case UKRUN_HC_NOTIFY: return "notify";
    default: return "unknown";
    }
}

HypercallAction Hypercalls::handle(uint16_t port, bool is_out, uint8_t size, uint32_t value)
{
    if (port < UKRUN_HC_PORT_BASE || port >= UKRUN_HC_PORT_BASE + UKRUN_HC_PORT_COUNT)
        throw GuestViolation(fmt::format("{} port 0x{:x}, outside ukrun's hypercall ports 0x{:x}-0x{:x}",
                                         is_out ? "out to" : "in from", port, UKRUN_HC_PORT_BASE,
                                         UKRUN_HC_PORT_BASE + UKRUN_HC_PORT_COUNT - 1));
    const uint32_t number = port - UKRUN_HC_PORT_BASE;
    if (!is_out || size != 4)
        throw GuestViolation(fmt::format("hypercall port 0x{:x} used with a {}-byte {}; hypercalls are 32-bit out",
                                         port, size, is_out ? "out" : "in"));
    if (number < stats_.by_number.size())
        ++stats_.by_number[number];
    const GuestAddr arg{value};
    switch (number) {
    case UKRUN_HC_CONSOLE_WRITE: return console_write(arg);
    case UKRUN_HC_WALL_CLOCK: return wall_clock(arg);
    case UKRUN_HC_POLL: return poll(arg);
    case UKRUN_HC_EXIT: return exit(arg);
    case UKRUN_HC_ABORT: return abort(arg);
    case UKRUN_HC_NOTIFY: return notify(arg);
    default:
        throw GuestViolation(fmt::format("unknown hypercall number {} (port 0x{:x})", number, port));
    }
}

HypercallAction Hypercalls::console_write(GuestAddr arg)
{
    const auto call = read_arg<ukrun_hc_console_write>(memory_, arg, "console-write");
    if (call.len > UKRUN_CONSOLE_WRITE_MAX)
        throw GuestViolation(fmt::format("console-write hypercall: length 0x{:x} exceeds the limit 0x{:x}", call.len,
                                         UKRUN_CONSOLE_WRITE_MAX));
    std::span<std::byte> bytes;
    try {
        bytes = memory_.slice({call.data}, call.len);
    } catch (const GuestViolation& e) {
        throw GuestViolation(fmt::format("console-write hypercall: data {}", e.what()));
    }
    write_all(console_fd_, bytes.data(), bytes.size());
    return ResumeGuest{};
}

HypercallAction Hypercalls::wall_clock(GuestAddr arg)
{
    read_arg<ukrun_hc_wall_clock>(memory_, arg, "wall-clock"); // validates the whole struct
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    ukrun_hc_wall_clock result{static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ull +
                               static_cast<uint64_t>(now.tv_nsec)};
    memory_.write(arg, result);
    return ResumeGuest{};
}

HypercallAction Hypercalls::poll(GuestAddr arg)
{
    auto call = read_arg<ukrun_hc_poll>(memory_, arg, "poll");
    if (call.reserved != 0)
        throw GuestViolation("poll hypercall: reserved field is not zero");
    const PollResult result = host_.poll(call.timeout_ns);
    call.ready = result.ready;
    call.events = result.events;
    memory_.write(arg, call);
    return ResumeGuest{};
}

HypercallAction Hypercalls::exit(GuestAddr arg)
{
    const auto call = read_arg<ukrun_hc_exit>(memory_, arg, "exit");
    if (call.reserved != 0)
        throw GuestViolation("exit hypercall: reserved field is not zero");
    if (call.status > UKRUN_EXIT_STATUS_MAX)
        throw GuestViolation(fmt::format("exit hypercall: status {} is outside 0..{} (higher codes are ukrun's own)",
                                         call.status, UKRUN_EXIT_STATUS_MAX));
    return GuestExited{static_cast<int>(call.status)};
}

HypercallAction Hypercalls::abort(GuestAddr arg)
{
    const auto call = read_arg<ukrun_hc_abort>(memory_, arg, "abort");
    std::string message = "(no message)";
    if (call.message != 0 && call.len != 0) {
        const uint64_t len = std::min<uint64_t>(call.len, UKRUN_ABORT_MESSAGE_MAX);
        if (memory_.contains({call.message}, len))
            message = printable(memory_.slice({call.message}, len));
        else
            message = fmt::format("(message at 0x{:x} lies outside guest memory)", call.message);
    }
    return GuestAborted{std::move(message)};
}

HypercallAction Hypercalls::notify(GuestAddr arg)
{
    const auto call = read_arg<ukrun_hc_notify>(memory_, arg, "notify");
    host_.notify(call.device, call.queue);
    return ResumeGuest{};
}

} // namespace ukrun
