// Tests of the hypercall dispatcher against hostile and well-formed arguments.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "errors.hpp"
#include "hypercalls.hpp"
#include "unique_fd.hpp"

using namespace ukrun;

namespace {

class FakeHost final : public HypercallHost {
public:
    PollResult poll(uint64_t timeout_ns) override
    {
        last_timeout = timeout_ns;
        return {0x5, UKRUN_POLL_SHUTDOWN};
    }
    void notify(uint32_t device, uint32_t) override
    {
        if (device != 0)
            throw GuestViolation("no such device");
        ++notified;
    }
    uint64_t last_timeout = 0;
    int notified = 0;
};

struct Fixture {
    std::vector<std::byte> ram = std::vector<std::byte>(1 << 16);
    GuestMemory memory{ram.data(), ram.size()};
    FakeHost host;
    UniqueFd read_end, write_end;
    Hypercalls hypercalls{memory, host, make_pipe()};

    int make_pipe()
    {
        int fds[2];
        REQUIRE(::pipe2(fds, O_NONBLOCK) == 0);
        read_end = UniqueFd(fds[0]);
        write_end = UniqueFd(fds[1]);
        return fds[1];
    }
    HypercallAction call(uint32_t nr, uint32_t arg)
    {
        return hypercalls.handle(static_cast<uint16_t>(UKRUN_HC_PORT_BASE + nr), true, 4, arg);
    }
    std::string console()
    {
        char buf[256];
        const ssize_t n = ::read(read_end.get(), buf, sizeof(buf));
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    }
};

} // namespace

TEST_CASE("console write copies guest bytes to the console", "[hypercalls]")
{
    Fixture f;
    std::memcpy(f.ram.data() + 0x2000, "hello\n", 6);
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_console_write{0x2000, 6});
    CHECK(std::holds_alternative<ResumeGuest>(f.call(UKRUN_HC_CONSOLE_WRITE, 0x1000)));
    CHECK(f.console() == "hello\n");
    CHECK(f.hypercalls.stats().by_number[UKRUN_HC_CONSOLE_WRITE] == 1);
}

TEST_CASE("hostile console writes are violations", "[hypercalls]")
{
    Fixture f;
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_console_write{0x20000, 4}); // data outside memory
    CHECK_THROWS_WITH(f.call(UKRUN_HC_CONSOLE_WRITE, 0x1000), Catch::Contains("console-write hypercall: data"));
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_console_write{0x2000, 0xffffffffffff0000ull}); // length overflow
    CHECK_THROWS_AS(f.call(UKRUN_HC_CONSOLE_WRITE, 0x1000), GuestViolation);
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_console_write{0x0, UKRUN_CONSOLE_WRITE_MAX + 1ull});
    CHECK_THROWS_WITH(f.call(UKRUN_HC_CONSOLE_WRITE, 0x1000), Catch::Contains("exceeds the limit"));
    // The argument struct itself straddling the end of memory.
    CHECK_THROWS_WITH(f.call(UKRUN_HC_CONSOLE_WRITE, 0xfff8), Catch::Contains("argument struct at 0xfff8"));
    CHECK(f.console().empty());
}

TEST_CASE("unknown ports, numbers and access sizes are violations", "[hypercalls]")
{
    Fixture f;
    CHECK_THROWS_WITH(f.hypercalls.handle(0x3f8, true, 1, 0), Catch::Contains("outside ukrun's hypercall ports"));
    CHECK_THROWS_WITH(f.call(0x77, 0x1000), Catch::Contains("unknown hypercall number 119"));
    CHECK_THROWS_WITH(f.hypercalls.handle(UKRUN_HC_PORT_BASE + 1, true, 1, 0), Catch::Contains("32-bit out"));
    CHECK_THROWS_WITH(f.hypercalls.handle(UKRUN_HC_PORT_BASE + 1, false, 4, 0), Catch::Contains("32-bit out"));
}

TEST_CASE("exit passes the status through and refuses ukrun's own codes", "[hypercalls]")
{
    Fixture f;
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_exit{42, 0});
    const auto action = f.call(UKRUN_HC_EXIT, 0x1000);
    REQUIRE(std::holds_alternative<GuestExited>(action));
    CHECK(std::get<GuestExited>(action).status == 42);
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_exit{200, 0});
    CHECK_THROWS_WITH(f.call(UKRUN_HC_EXIT, 0x1000), Catch::Contains("status 200 is outside 0..111"));
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_exit{7, 1});
    CHECK_THROWS_WITH(f.call(UKRUN_HC_EXIT, 0x1000), Catch::Contains("reserved field is not zero"));
}

TEST_CASE("abort carries a printable message", "[hypercalls]")
{
    Fixture f;
    std::memcpy(f.ram.data() + 0x2000, "bad\nthing\0", 10);
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_abort{0x2000, 10});
    const auto action = f.call(UKRUN_HC_ABORT, 0x1000);
    CHECK(std::get<GuestAborted>(action).message == "bad?thing");
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_abort{0xfffff0, 10});
    CHECK_THAT(std::get<GuestAborted>(f.call(UKRUN_HC_ABORT, 0x1000)).message, Catch::Contains("outside"));
}

TEST_CASE("poll passes the timeout and returns readiness", "[hypercalls]")
{
    Fixture f;
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_poll{12345, 0, 0, 0});
    f.call(UKRUN_HC_POLL, 0x1000);
    CHECK(f.host.last_timeout == 12345);
    const auto result = f.memory.read<ukrun_hc_poll>({0x1000});
    CHECK(result.ready == 0x5);
    CHECK(result.events == UKRUN_POLL_SHUTDOWN);
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_poll{1, 0, 0, 7});
    CHECK_THROWS_WITH(f.call(UKRUN_HC_POLL, 0x1000), Catch::Contains("reserved"));
}

TEST_CASE("wall clock writes the host's time", "[hypercalls]")
{
    Fixture f;
    f.call(UKRUN_HC_WALL_CLOCK, 0x1000);
    CHECK(f.memory.read<uint64_t>({0x1000}) > 1'600'000'000ull * 1'000'000'000ull);
}

TEST_CASE("notify is routed to the host", "[hypercalls]")
{
    Fixture f;
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_notify{0, 0});
    f.call(UKRUN_HC_NOTIFY, 0x1000);
    CHECK(f.host.notified == 1);
    f.memory.write(GuestAddr{0x1000}, ukrun_hc_notify{3, 0});
    CHECK_THROWS_AS(f.call(UKRUN_HC_NOTIFY, 0x1000), GuestViolation);
}
