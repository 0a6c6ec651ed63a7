// Container networking: the interface's frames go to a TAP the unikernel drives, via tc.
#include "container_net.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/action.h>
#include <netlink/route/addr.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "errors.hpp"
#include "net_device.hpp"

namespace ukrun {

namespace {

constexpr uint32_t kIngressHandle = 0xffff0000u; // ffff:, the ingress qdisc's fixed handle

std::string format_ipv4(const std::array<uint8_t, 4>& a)
{
    return fmt::format("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
}

// The hint a DeviceError carries when the kernel refused for lack of privilege.
std::string privilege_hint(bool permission_denied)
{
    return permission_denied ? " (needs CAP_NET_ADMIN: in a container, add --cap-add NET_ADMIN)" : "";
}

template <typename T, void (*Free)(T*)>
struct NlDeleter {
    void operator()(T* p) const noexcept { Free(p); }
};
using CachePtr = std::unique_ptr<nl_cache, NlDeleter<nl_cache, nl_cache_free>>;
using LinkPtr = std::unique_ptr<rtnl_link, NlDeleter<rtnl_link, rtnl_link_put>>;
using QdiscPtr = std::unique_ptr<rtnl_qdisc, NlDeleter<rtnl_qdisc, rtnl_qdisc_put>>;
using ClsPtr = std::unique_ptr<rtnl_cls, NlDeleter<rtnl_cls, rtnl_cls_put>>;
using ActPtr = std::unique_ptr<rtnl_act, NlDeleter<rtnl_act, rtnl_act_put>>;

std::optional<std::array<uint8_t, 4>> ipv4_of(nl_addr* addr)
{
    if (addr == nullptr || nl_addr_get_family(addr) != AF_INET || nl_addr_get_len(addr) != 4)
        return std::nullopt;
    std::array<uint8_t, 4> out{};
    std::memcpy(out.data(), nl_addr_get_binary_addr(addr), 4);
    return out;
}

} // namespace

std::optional<std::string> parse_container_target(std::string_view target)
{
    constexpr std::string_view kKeyword = "container";
    if (!target.starts_with(kKeyword))
        return std::nullopt;
    std::string_view rest = target.substr(kKeyword.size());
    if (rest.empty())
        return std::string(kDefaultContainerInterface);
    if (rest[0] != ':')
        return std::nullopt; // a TAP that merely starts with "container"
    rest.remove_prefix(1);
    if (rest.empty() || rest.size() >= IFNAMSIZ || rest.find_first_of("/: \t") != std::string_view::npos)
        throw UsageError(fmt::format("--net NAME={}: expected container or container:IFNAME with an interface name "
                                     "of 1 to {} characters",
                                     target, IFNAMSIZ - 1));
    return std::string(rest);
}

std::string container_tap_name(std::string_view device)
{
    std::string name = fmt::format("tap-{}", device);
    name.resize(std::min<std::size_t>(name.size(), IFNAMSIZ - 1));
    return name;
}

ContainerInterface interpret_interface(const RawInterface& raw)
{
    ContainerInterface out;
    out.name = raw.name;
    out.index = raw.index;
    // Loopback reports an all-zero "MAC": no peer could address frames to it.
    const bool all_zero = std::all_of(raw.mac.begin(), raw.mac.end(), [](uint8_t b) { return b == 0; });
    if (raw.mac.size() != 6 || (raw.mac[0] & 1) != 0 || all_zero)
        throw DeviceError(fmt::format("container interface {} has no Ethernet MAC address", raw.name));
    std::copy(raw.mac.begin(), raw.mac.end(), out.mac.begin());
    if (raw.mtu >= 68)
        out.mtu = raw.mtu;

    // The primary address is what the container's peers know it by; secondaries are aliases.
    auto primary = std::find_if(raw.ipv4.begin(), raw.ipv4.end(), [](const auto& a) { return !a.secondary; });
    if (primary == raw.ipv4.end())
        primary = raw.ipv4.begin();
    if (primary == raw.ipv4.end())
        throw DeviceError(fmt::format("container interface {} has no IPv4 address (is the container attached to a "
                                      "network? --network none leaves only lo)",
                                      raw.name));
    if (primary->prefix > 32)
        throw DeviceError(fmt::format("container interface {}: IPv4 prefix /{} is invalid", raw.name, primary->prefix));
    out.ip = primary->ip;
    out.prefix = primary->prefix;

    const RawInterface::Route* best = nullptr;
    for (const auto& r : raw.ipv4_routes) {
        if (r.dst_prefix != 0 || r.table != RT_TABLE_MAIN || !r.gateway)
            continue;
        if (best == nullptr || (best->oif != raw.index && r.oif == raw.index))
            best = &r;
    }
    if (best != nullptr)
        out.gateway = best->gateway;
    return out;
}

std::vector<std::string> container_guest_args(const ContainerInterface& iface)
{
    std::vector<std::string> args{fmt::format("ip={}/{}", format_ipv4(iface.ip), iface.prefix)};
    if (iface.gateway)
        args.push_back(fmt::format("gw={}", format_ipv4(*iface.gateway)));
    return args;
}

// The rtnetlink socket and every request ukrun makes over it.
struct ContainerLink::Netlink {
    nl_sock* sock = nullptr;

    Netlink()
    {
        sock = nl_socket_alloc();
        if (sock == nullptr)
            throw HostError("netlink: out of memory");
        if (const int err = nl_connect(sock, NETLINK_ROUTE); err < 0) {
            nl_socket_free(sock);
            throw HostError(fmt::format("netlink: cannot connect: {}", nl_geterror(err)));
        }
    }
    ~Netlink() { nl_socket_free(sock); }
    Netlink(const Netlink&) = delete;
    Netlink& operator=(const Netlink&) = delete;

    RawInterface read_interface(const std::string& name)
    {
        RawInterface raw;
        raw.name = name;
        rtnl_link* link_raw = nullptr;
        if (const int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &link_raw); err < 0) {
            if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
                throw DeviceError(fmt::format("container interface {} does not exist (choose another with "
                                              "--net NAME=container:IFNAME)",
                                              name));
            throw DeviceError(fmt::format("container interface {}: cannot read it: {}", name, nl_geterror(err)));
        }
        const LinkPtr link(link_raw);
        raw.index = rtnl_link_get_ifindex(link.get());
        raw.mtu = rtnl_link_get_mtu(link.get());
        if (nl_addr* mac = rtnl_link_get_addr(link.get()); mac != nullptr) {
            const auto* bytes = static_cast<const uint8_t*>(nl_addr_get_binary_addr(mac));
            raw.mac.assign(bytes, bytes + nl_addr_get_len(mac));
        }

        nl_cache* addrs_raw = nullptr;
        if (const int err = rtnl_addr_alloc_cache(sock, &addrs_raw); err < 0)
            throw DeviceError(fmt::format("container interface {}: cannot list addresses: {}", name, nl_geterror(err)));
        const CachePtr addrs(addrs_raw);
        for (nl_object* o = nl_cache_get_first(addrs.get()); o != nullptr; o = nl_cache_get_next(o)) {
            auto* a = reinterpret_cast<rtnl_addr*>(o);
            if (rtnl_addr_get_ifindex(a) != raw.index || rtnl_addr_get_family(a) != AF_INET)
                continue;
            if (const auto ip = ipv4_of(rtnl_addr_get_local(a)))
                raw.ipv4.push_back({*ip, static_cast<unsigned>(rtnl_addr_get_prefixlen(a)),
                                    (rtnl_addr_get_flags(a) & IFA_F_SECONDARY) != 0});
        }

        nl_cache* routes_raw = nullptr;
        if (const int err = rtnl_route_alloc_cache(sock, AF_INET, 0, &routes_raw); err < 0)
            throw DeviceError(fmt::format("container interface {}: cannot list routes: {}", name, nl_geterror(err)));
        const CachePtr routes(routes_raw);
        for (nl_object* o = nl_cache_get_first(routes.get()); o != nullptr; o = nl_cache_get_next(o)) {
            auto* r = reinterpret_cast<rtnl_route*>(o);
            nl_addr* dst = rtnl_route_get_dst(r);
            RawInterface::Route route;
            route.dst_prefix = dst != nullptr ? nl_addr_get_prefixlen(dst) : 0;
            route.table = rtnl_route_get_table(r);
            if (rtnl_route_get_nnexthops(r) > 0) {
                rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
                route.oif = rtnl_route_nh_get_ifindex(nh);
                route.gateway = ipv4_of(rtnl_route_nh_get_gateway(nh));
            }
            raw.ipv4_routes.push_back(route);
        }
        return raw;
    }

    void set_up(int index, const std::string& name, std::optional<uint32_t> mtu)
    {
        const LinkPtr orig(rtnl_link_alloc());
        const LinkPtr change(rtnl_link_alloc());
        rtnl_link_set_ifindex(orig.get(), index);
        rtnl_link_set_name(orig.get(), name.c_str());
        rtnl_link_set_flags(change.get(), IFF_UP);
        if (mtu)
            rtnl_link_set_mtu(change.get(), *mtu);
        if (const int err = rtnl_link_change(sock, orig.get(), change.get(), 0); err < 0)
            throw DeviceError(fmt::format("cannot bring up {}: {}{}", name, nl_geterror(err),
                                          privilege_hint(err == -NLE_PERM)));
    }

    static QdiscPtr ingress_qdisc(int index)
    {
        QdiscPtr q(rtnl_qdisc_alloc());
        rtnl_tc_set_ifindex(TC_CAST(q.get()), index);
        rtnl_tc_set_parent(TC_CAST(q.get()), TC_H_INGRESS);
        rtnl_tc_set_handle(TC_CAST(q.get()), kIngressHandle);
        rtnl_tc_set_kind(TC_CAST(q.get()), "ingress");
        return q;
    }

    void delete_ingress(int index) { rtnl_qdisc_delete(sock, ingress_qdisc(index).get()); }

    // tc qdisc add dev FROM ingress;
    // tc filter add dev FROM parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev TO
    void redirect_all(int from, const std::string& from_name, int to)
    {
        delete_ingress(from); // a stale one from an earlier run in this namespace
        if (const int err = rtnl_qdisc_add(sock, ingress_qdisc(from).get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
            throw DeviceError(fmt::format("cannot add an ingress qdisc to {}: {}{}", from_name, nl_geterror(err),
                                          privilege_hint(err == -NLE_PERM)));

        const ActPtr act(rtnl_act_alloc());
        rtnl_tc_set_kind(TC_CAST(act.get()), "mirred");
        rtnl_mirred_set_action(act.get(), TCA_EGRESS_REDIR);
        rtnl_mirred_set_policy(act.get(), TC_ACT_STOLEN);
        rtnl_mirred_set_ifindex(act.get(), static_cast<uint32_t>(to));

        const ClsPtr cls(rtnl_cls_alloc());
        rtnl_tc_set_ifindex(TC_CAST(cls.get()), from);
        rtnl_tc_set_parent(TC_CAST(cls.get()), kIngressHandle);
        rtnl_tc_set_kind(TC_CAST(cls.get()), "u32");
        rtnl_cls_set_protocol(cls.get(), ETH_P_ALL);
        rtnl_cls_set_prio(cls.get(), 1);
        int err = rtnl_u32_add_key_uint32(cls.get(), 0, 0, 0, 0); // match u32 0 0: every frame
        if (err >= 0)
            err = rtnl_u32_set_cls_terminal(cls.get()); // without it u32 never runs the action
        if (err >= 0)
            err = rtnl_u32_add_action(cls.get(), act.get());
        if (err >= 0)
            err = rtnl_cls_add(sock, cls.get(), NLM_F_CREATE | NLM_F_EXCL);
        if (err < 0)
            throw DeviceError(fmt::format("cannot redirect {}'s frames: {}{}", from_name, nl_geterror(err),
                                          privilege_hint(err == -NLE_PERM)));
    }
};

namespace {


int interface_index(const std::string& name)
{
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.c_str(), std::min(name.size(), std::size_t{IFNAMSIZ - 1}));
    if (!sock.valid() || ::ioctl(sock.get(), SIOCGIFINDEX, &ifr) < 0)
        throw DeviceError(fmt::format("TAP {} vanished after it was created: {}", name, std::strerror(errno)));
    return ifr.ifr_ifindex;
}

} // namespace

ContainerLink::ContainerLink(const std::string& device, const std::string& interface)
    : netlink_(std::make_unique<Netlink>())
{
    // Reading needs no privilege, so a misnamed interface is reported before a missing capability.
    interface_ = interpret_interface(netlink_->read_interface(interface));

    const std::string tap_name = container_tap_name(device);
    UniqueFd tap = open_tap(device, tap_name);
    const int tap_index = interface_index(tap_name);
    netlink_->set_up(tap_index, tap_name, interface_.mtu);
    netlink_->set_up(interface_.index, interface_.name, std::nullopt);

    // From here on the interface is changed; a constructor that throws runs no destructor,
    // so undo it here if the rest fails.
    try {
        netlink_->redirect_all(interface_.index, interface_.name, tap_index);
        netlink_->redirect_all(tap_index, tap_name, interface_.index);
    } catch (...) {
        netlink_->delete_ingress(interface_.index);
        throw;
    }
    qdisc_added_ = true;
    tap_fd_ = tap.release();
}

ContainerLink::~ContainerLink()
{
    // The TAP and its qdisc vanish with the last fd; the container's interface keeps its
    // configuration otherwise, so give it its own frames back.
    if (qdisc_added_)
        netlink_->delete_ingress(interface_.index);
    if (tap_fd_ >= 0)
        ::close(tap_fd_);
}

int ContainerLink::release_tap_fd() noexcept
{
    return std::exchange(tap_fd_, -1);
}

std::vector<std::unique_ptr<ContainerLink>> adopt_container_interfaces(VmConfig& config)
{
    std::vector<std::unique_ptr<ContainerLink>> links;
    for (auto& net : config.nets) {
        if (net.backing.container_interface.empty())
            continue;
        auto link = std::make_unique<ContainerLink>(net.name, net.backing.container_interface);
        net.backing.fd = link->release_tap_fd();
        net.backing.mac = link->interface().mac;
        for (auto& arg : container_guest_args(link->interface()))
            config.guest_args.push_back(std::move(arg));
        links.push_back(std::move(link));
    }
    return links;
}

} // namespace ukrun
