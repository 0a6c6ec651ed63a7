// Tests of command-line parsing: options, sizes, pass-through of unikernel arguments.
#include <catch2/catch.hpp>

#include "errors.hpp"
#include "net_device.hpp"
#include "options.hpp"

using namespace ukrun;

namespace {
VmConfig parse(std::vector<std::string> args)
{
    return std::get<VmConfig>(parse_command_line(args));
}
} // namespace

TEST_CASE("kernel and its arguments are separated from ukrun's options", "[options]")
{
    const VmConfig c = parse({"--mem", "128M", "--stats", "app.elf", "a", "--mem", "b"});
    CHECK(c.kernel_path == "app.elf");
    CHECK(c.guest_args == std::vector<std::string>{"a", "--mem", "b"});
    CHECK(c.mem_size == 128ull << 20);
    CHECK(c.print_stats);
    CHECK_FALSE(c.trace_boot);

    const VmConfig d = parse({"--", "app.elf", "x"});
    CHECK(d.kernel_path == "app.elf");
    CHECK(d.guest_args == std::vector<std::string>{"x"});
    CHECK(parse({"app.elf"}).mem_size == 64ull << 20);
}

TEST_CASE("help and version are text, not a run", "[options]")
{
    auto help = parse_command_line({"--help"});
    REQUIRE(std::holds_alternative<ShowText>(help));
    CHECK_THAT(std::get<ShowText>(help).text, Catch::Contains("--mem") && Catch::Contains("Exit codes"));
    auto version = parse_command_line({"--version"});
    REQUIRE(std::holds_alternative<ShowText>(version));
    CHECK_THAT(std::get<ShowText>(version).text, Catch::StartsWith("ukrun "));
}

TEST_CASE("bad command lines are usage errors with one-line reasons", "[options]")
{
    CHECK_THROWS_WITH(parse_command_line({}), Catch::Contains("missing the unikernel"));
    CHECK_THROWS_AS(parse_command_line({"--bogus", "app.elf"}), UsageError);
    CHECK_THROWS_WITH(parse_command_line({"--mem", "12X", "app.elf"}), Catch::Contains("unknown unit"));
    CHECK_THROWS_WITH(parse_command_line({"--mem", "1M", "app.elf"}), Catch::Contains("between 4M and 4G"));
    CHECK_THROWS_WITH(parse_command_line({"--mem", "8G", "app.elf"}), Catch::Contains("between 4M and 4G"));
    CHECK_THROWS_WITH(parse_command_line({"--mem", "5000K", "app.elf"}), Catch::Contains("whole number of MiB"));
    CHECK_THROWS_WITH(parse_command_line({"--mem", "99999999999999999999", "app.elf"}), Catch::Contains("too large"));
    CHECK_THROWS_AS(parse_command_line({"--mem"}), UsageError);
}

TEST_CASE("sizes parse with binary units", "[options]")
{
    CHECK(parse_size("4096", "--mem") == 4096);
    CHECK(parse_size("2K", "--mem") == 2048);
    CHECK(parse_size("3M", "--mem") == 3ull << 20);
    CHECK(parse_size("1G", "--mem") == 1ull << 30);
    CHECK(parse_size("1GiB", "--mem") == 1ull << 30);
    CHECK_THROWS_AS(parse_size("", "--mem"), UsageError);
    CHECK_THROWS_AS(parse_size("M", "--mem"), UsageError);
    CHECK_THROWS_AS(parse_size("17179869184G", "--mem"), UsageError);
}

TEST_CASE("block devices are named, repeatable and validated", "[options]")
{
    const VmConfig c = parse({"--block", "disk=/tmp/a.img", "--block", "logs=/tmp/b.img:ro", "--block-readonly",
                              "disk", "--block-sector-size", "logs=4K", "app.elf", "x"});
    REQUIRE(c.blocks.size() == 2);
    CHECK(c.blocks[0].name == "disk");
    CHECK(c.blocks[0].backing.path == "/tmp/a.img");
    CHECK(c.blocks[0].backing.readonly);
    CHECK(c.blocks[0].backing.sector_size == 512);
    CHECK(c.blocks[1].backing.path == "/tmp/b.img");
    CHECK(c.blocks[1].backing.readonly);
    CHECK(c.blocks[1].backing.sector_size == 4096);
    CHECK(c.kernel_path == "app.elf");
    CHECK(c.guest_args == std::vector<std::string>{"x"});

    CHECK_THROWS_WITH(parse_command_line({"--block", "disk", "app.elf"}), Catch::Contains("expected NAME=VALUE"));
    CHECK_THROWS_WITH(parse_command_line({"--block", "=x", "app.elf"}), Catch::Contains("expected NAME=VALUE"));
    CHECK_THROWS_WITH(parse_command_line({"--block", "d=a", "--block", "d=b", "app.elf"}),
                      Catch::Contains("given twice"));
    CHECK_THROWS_WITH(parse_command_line({"--block-readonly", "d", "app.elf"}), Catch::Contains("no --block d=PATH"));
    CHECK_THROWS_WITH(parse_command_line({"--block", "d=a", "--block-sector-size", "d=1000", "app.elf"}),
                      Catch::Contains("power of two"));
}

TEST_CASE("net devices take a TAP name or an fd, and a MAC", "[options]")
{
    const VmConfig c = parse({"--net", "service=tap0", "--net", "mgmt=@7", "--net-mac", "service=02:aa:bb:cc:dd:ee",
                              "app.elf"});
    REQUIRE(c.nets.size() == 2);
    CHECK(c.nets[0].backing.tap_name == "tap0");
    CHECK(c.nets[0].backing.fd == -1);
    REQUIRE(c.nets[0].backing.mac.has_value());
    CHECK(format_mac(*c.nets[0].backing.mac) == "02:aa:bb:cc:dd:ee");
    CHECK(c.nets[1].backing.fd == 7);
    CHECK_FALSE(c.nets[1].backing.mac.has_value());

    CHECK_THROWS_WITH(parse_command_line({"--net", "a=@x", "app.elf"}), Catch::Contains("expected @FD"));
    CHECK_THROWS_WITH(parse_command_line({"--net", "a=t", "--net", "a=u", "app.elf"}), Catch::Contains("twice"));
    CHECK_THROWS_WITH(parse_command_line({"--net-mac", "a=02:00:00:00:00:01", "app.elf"}),
                      Catch::Contains("no --net a="));
    CHECK_THROWS_WITH(parse_command_line({"--net", "a=t", "--net-mac", "a=01:00:00:00:00:01", "app.elf"}),
                      Catch::Contains("unicast MAC"));
}

TEST_CASE("MAC addresses parse strictly and default stably", "[net]")
{
    CHECK(parse_mac("02:00:5e:10:00:0A").has_value());
    CHECK_FALSE(parse_mac("02:00:5e:10:00").has_value());
    CHECK_FALSE(parse_mac("02-00-5e-10-00-0a").has_value());
    CHECK_FALSE(parse_mac("0g:00:5e:10:00:0a").has_value());
    CHECK_FALSE(parse_mac("ff:ff:ff:ff:ff:ff").has_value());
    const auto a = default_mac("service", "tap0");
    CHECK(a == default_mac("service", "tap0"));
    CHECK(a != default_mac("service", "tap1"));
    CHECK(a[0] == 0x02); // locally administered, unicast
}
