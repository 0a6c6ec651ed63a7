// `--net NAME=container`: hand a container's network interface to the unikernel.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vm_config.hpp"

namespace ukrun {

inline constexpr std::string_view kDefaultContainerInterface = "eth0";

// "container" → "eth0", "container:IF" → "IF"; nullopt when TARGET names something else
// (a TAP or @FD). UsageError for "container:" with an empty or over-long name.
std::optional<std::string> parse_container_target(std::string_view target);

// The TAP ukrun creates for net device NAME: "tap-NAME", cut to the kernel's 15 characters.
std::string container_tap_name(std::string_view device);

// What netlink reports about the interface, before any interpretation.
struct RawInterface {
    std::string name;
    int index = 0;
    std::vector<uint8_t> mac; // as the kernel gave it; checked by interpret_interface
    uint32_t mtu = 0;
    struct Address {
        std::array<uint8_t, 4> ip{};
        unsigned prefix = 0;
        bool secondary = false;
    };
    std::vector<Address> ipv4;
    struct Route {
        unsigned dst_prefix = 0;
        uint32_t table = 0;
        int oif = 0; // 0 when unknown
        std::optional<std::array<uint8_t, 4>> gateway;
    };
    std::vector<Route> ipv4_routes;
};

// What the unikernel takes over from the container's interface.
struct ContainerInterface {
    std::string name;
    int index = 0;
    std::array<uint8_t, 6> mac{};
    uint32_t mtu = 1500;
    std::array<uint8_t, 4> ip{};
    unsigned prefix = 0;
    std::optional<std::array<uint8_t, 4>> gateway;
};

// Picks the primary IPv4 address and the main table's default route (preferring one via
// this interface). DeviceError when the interface has no usable MAC or no IPv4 address.
ContainerInterface interpret_interface(const RawInterface& raw);

// The unikernel configures its network stack from its command line: "ip=A.B.C.D/P" and,
// when there is a default route, "gw=G.H.I.J".
std::vector<std::string> container_guest_args(const ContainerInterface& iface);

// Every frame that arrives on one device leaves through the other: an ingress qdisc on
// each and a u32 match-all filter with mirred egress redirect. The netlink work lives
// here; what it configures is undone (the interface's ingress qdisc removed, the TAP
// closed with the process) when the object goes.
class ContainerLink {
public:
    // Reads the interface, creates and raises the TAP with the same MTU, wires the two
    // together. DeviceError names what is missing and the docker run flag that fixes it.
    ContainerLink(const std::string& device, const std::string& interface);
    ~ContainerLink();
    ContainerLink(const ContainerLink&) = delete;
    ContainerLink& operator=(const ContainerLink&) = delete;

    const ContainerInterface& interface() const noexcept { return interface_; }
    // The open TAP; the net device adopts it (and closes it), so call once.
    int release_tap_fd() noexcept;

private:
    struct Netlink;
    std::unique_ptr<Netlink> netlink_;
    ContainerInterface interface_;
    int tap_fd_ = -1;
    bool qdisc_added_ = false;
};

// Resolves every `container` backing in CONFIG: sets up its ContainerLink, points the
// NIC at the TAP with the interface's MAC and appends the address arguments. The links
// must outlive the run.
std::vector<std::unique_ptr<ContainerLink>> adopt_container_interfaces(VmConfig& config);

} // namespace ukrun
