// Container networking's pure parts: the `container[:IF]` target, netlink's answers, the guest arguments.
#include <catch2/catch.hpp>

#include <linux/rtnetlink.h>

#include "container_net.hpp"
#include "errors.hpp"
#include "options.hpp"

using namespace ukrun;

namespace {

RawInterface docker_eth0()
{
    RawInterface raw;
    raw.name = "eth0";
    raw.index = 7;
    raw.mac = {0x02, 0x42, 0xac, 0x11, 0x00, 0x02};
    raw.mtu = 1500;
    raw.ipv4 = {{{172, 17, 0, 2}, 16, false}};
    raw.ipv4_routes = {
        {16, RT_TABLE_MAIN, 7, std::nullopt},             // 172.17.0.0/16 dev eth0
        {0, RT_TABLE_MAIN, 7, {{172, 17, 0, 1}}},         // default via 172.17.0.1
        {32, RT_TABLE_LOCAL, 7, std::nullopt},            // local 172.17.0.2
    };
    return raw;
}

VmConfig parse(std::vector<std::string> args)
{
    return std::get<VmConfig>(parse_command_line(args));
}

} // namespace

TEST_CASE("container targets name the interface, eth0 by default")
{
    CHECK(parse_container_target("container") == "eth0");
    CHECK(parse_container_target("container:ens3") == "ens3");
    CHECK(parse_container_target("tap0") == std::nullopt);
    CHECK(parse_container_target("@3") == std::nullopt);
    CHECK(parse_container_target("containertap") == std::nullopt); // a TAP's name, not the keyword
    CHECK_THROWS_AS(parse_container_target("container:"), UsageError);
    CHECK_THROWS_AS(parse_container_target("container:a-very-long-name0"), UsageError);
    CHECK_THROWS_AS(parse_container_target("container:a/b"), UsageError);
}

TEST_CASE("a container backing is given as --net NAME=container[:IF]")
{
    const VmConfig c = parse({"--net", "service=container", "app.elf", "x"});
    REQUIRE(c.nets.size() == 1);
    CHECK(c.nets[0].backing.container_interface == "eth0");
    CHECK(c.nets[0].backing.tap_name.empty());
    CHECK(c.nets[0].backing.fd == -1);
    CHECK(parse({"--net", "n=container:eth1", "app.elf"}).nets[0].backing.container_interface == "eth1");
    CHECK(parse({"--net", "n=tap0", "app.elf"}).nets[0].backing.container_interface.empty());
    // The container interface's own MAC is the one its peers already know.
    CHECK_THROWS_AS(parse({"--net", "n=container", "--net-mac", "n=02:00:00:00:00:01", "app.elf"}), UsageError);
}

TEST_CASE("the TAP is named after the device, within the kernel's limit")
{
    CHECK(container_tap_name("service") == "tap-service");
    CHECK(container_tap_name("a-rather-long-device") == "tap-a-rather-lo");
    CHECK(container_tap_name("a-rather-long-device").size() == 15);
}

TEST_CASE("a Docker eth0 becomes address, gateway, MAC and MTU")
{
    const ContainerInterface i = interpret_interface(docker_eth0());
    CHECK(i.name == "eth0");
    CHECK(i.index == 7);
    CHECK(i.mac == std::array<uint8_t, 6>{0x02, 0x42, 0xac, 0x11, 0x00, 0x02});
    CHECK(i.mtu == 1500);
    CHECK(i.ip == std::array<uint8_t, 4>{172, 17, 0, 2});
    CHECK(i.prefix == 16);
    REQUIRE(i.gateway);
    CHECK(*i.gateway == std::array<uint8_t, 4>{172, 17, 0, 1});
    CHECK(container_guest_args(i) == std::vector<std::string>{"ip=172.17.0.2/16", "gw=172.17.0.1"});
}

TEST_CASE("the primary address wins over secondaries")
{
    RawInterface raw = docker_eth0();
    raw.ipv4 = {{{10, 0, 0, 9}, 8, true}, {{192, 168, 5, 4}, 24, false}};
    CHECK(container_guest_args(interpret_interface(raw))[0] == "ip=192.168.5.4/24");
    raw.ipv4 = {{{10, 0, 0, 9}, 8, true}};
    CHECK(container_guest_args(interpret_interface(raw))[0] == "ip=10.0.0.9/8");
}

TEST_CASE("the default route comes from the main table, preferring this interface")
{
    RawInterface raw = docker_eth0();
    raw.ipv4_routes = {
        {0, 200, 7, {{10, 9, 9, 9}}},                 // another table's default
        {0, RT_TABLE_MAIN, 3, {{192, 168, 1, 1}}},    // main default via another interface
        {0, RT_TABLE_MAIN, 7, {{172, 17, 0, 254}}},   // main default via eth0
    };
    CHECK(*interpret_interface(raw).gateway == std::array<uint8_t, 4>{172, 17, 0, 254});
    raw.ipv4_routes.pop_back();
    CHECK(*interpret_interface(raw).gateway == std::array<uint8_t, 4>{192, 168, 1, 1});
}

TEST_CASE("no default route means no gw argument")
{
    RawInterface raw = docker_eth0();
    raw.ipv4_routes = {{24, RT_TABLE_MAIN, 7, std::nullopt}, {0, RT_TABLE_MAIN, 7, std::nullopt}};
    const ContainerInterface i = interpret_interface(raw);
    CHECK_FALSE(i.gateway);
    CHECK(container_guest_args(i) == std::vector<std::string>{"ip=172.17.0.2/16"});
}

TEST_CASE("an interface without IPv4 or without a MAC is a device error")
{
    RawInterface raw = docker_eth0();
    raw.ipv4.clear();
    CHECK_THROWS_AS(interpret_interface(raw), DeviceError);
    raw = docker_eth0();
    raw.mac.clear(); // e.g. a point-to-point or tun interface
    CHECK_THROWS_AS(interpret_interface(raw), DeviceError);
    raw.mac = {0, 0, 0, 0, 0, 0}; // lo
    CHECK_THROWS_AS(interpret_interface(raw), DeviceError);
    raw = docker_eth0();
    raw.ipv4[0].prefix = 33;
    CHECK_THROWS_AS(interpret_interface(raw), DeviceError);
}

TEST_CASE("an implausible MTU falls back to Ethernet's")
{
    RawInterface raw = docker_eth0();
    raw.mtu = 0;
    CHECK(interpret_interface(raw).mtu == 1500);
    raw.mtu = 9000;
    CHECK(interpret_interface(raw).mtu == 9000);
}
