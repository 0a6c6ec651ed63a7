// TAP-backed net device: tx chains become writes, tap reads fill posted rx buffers.
#include "net_device.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "errors.hpp"

namespace ukrun {

UniqueFd open_tap(const std::string& device, const std::string& name)
{
    if (name.size() >= IFNAMSIZ)
        throw DeviceError(fmt::format("net device '{}': interface name '{}' is longer than {} characters", device, name,
                                      IFNAMSIZ - 1));
    UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid())
        throw DeviceError(fmt::format("net device '{}': cannot open /dev/net/tun: {} (in a container, add "
                                      "--device /dev/net/tun)",
                                      device, std::strerror(errno)));
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::memcpy(ifr.ifr_name, name.c_str(), name.size());
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0)
        throw DeviceError(fmt::format("net device '{}': cannot open TAP '{}': {}{}", device, name,
                                      std::strerror(errno),
                                      errno == EPERM ? " (needs CAP_NET_ADMIN: in a container, add --cap-add NET_ADMIN)"
                                                     : ""));
    return fd;
}

namespace {

uint32_t interface_mtu(const std::string& name)
{
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.c_str(), std::min(name.size(), std::size_t{IFNAMSIZ - 1}));
    if (!sock.valid() || ::ioctl(sock.get(), SIOCGIFMTU, &ifr) < 0 || ifr.ifr_mtu < 68)
        return 1500;
    return static_cast<uint32_t>(ifr.ifr_mtu);
}

} // namespace

std::optional<std::array<uint8_t, 6>> parse_mac(std::string_view text)
{
    std::array<uint8_t, 6> mac{};
    if (text.size() != 17)
        return std::nullopt;
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < 6; ++i) {
        const int hi = hex(text[i * 3]), lo = hex(text[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':'))
            return std::nullopt;
        mac[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    if (mac[0] & 1) // multicast addresses cannot be a NIC's own
        return std::nullopt;
    return mac;
}

std::string format_mac(const std::array<uint8_t, 6>& m)
{
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
}

std::array<uint8_t, 6> default_mac(std::string_view device, std::string_view tap)
{
    // FNV-1a over both names; the first byte is fixed to "locally administered, unicast".
    uint64_t hash = 0xcbf29ce484222325ull;
    auto mix = [&](std::string_view s) {
        for (char c : s) {
            hash ^= static_cast<uint8_t>(c);
            hash *= 0x100000001b3ull;
        }
        hash ^= 0xff;
        hash *= 0x100000001b3ull;
    };
    mix(device);
    mix(tap);
    std::array<uint8_t, 6> mac{0x02};
    for (std::size_t i = 1; i < 6; ++i)
        mac[i] = static_cast<uint8_t>(hash >> (8 * i));
    return mac;
}

NetDevice::NetDevice(std::string name, const NetBacking& backing) : Device(std::move(name))
{
    if (backing.fd >= 0) {
        tap_ = UniqueFd(backing.fd);
        ifreq ifr{};
        if (::ioctl(tap_.get(), TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_TAP))
            throw DeviceError(fmt::format("net device '{}': fd {} is not a TAP device", this->name(), backing.fd));
        if (ifr.ifr_flags & IFF_VNET_HDR)
            throw DeviceError(fmt::format("net device '{}': fd {} has IFF_VNET_HDR set, which ukrun does not use",
                                          this->name(), backing.fd));
        tap_name_ = ifr.ifr_name;
        ::fcntl(tap_.get(), F_SETFL, ::fcntl(tap_.get(), F_GETFL) | O_NONBLOCK);
        ::fcntl(tap_.get(), F_SETFD, FD_CLOEXEC);
    } else {
        tap_ = open_tap(this->name(), backing.tap_name);
        tap_name_ = backing.tap_name;
    }
    frame_.resize(65536);
    // The scratch buffer bounds a frame whatever the kernel allows.
    mtu_ = std::min<uint32_t>(interface_mtu(tap_name_), static_cast<uint32_t>(frame_.size() - kEthernetHeader));
    mac_ = backing.mac ? *backing.mac : default_mac(this->name(), tap_name_);
}

void NetDevice::attach(const GuestMemory& memory, std::vector<Virtqueue> queues)
{
    memory_ = &memory;
    queues_ = std::move(queues);
    // The monitor takes rx buffers when frames arrive; the guest never needs to notify.
    queues_[kNetRxQueue].suppress_notifications(true);
}

void NetDevice::describe(ukrun_device_info& info) const
{
    info.mtu = mtu_;
    std::memcpy(info.mac, mac_.data(), mac_.size());
}

void NetDevice::notify(uint32_t queue)
{
    ++counters_.notifications;
    if (queue == kNetTxQueue)
        transmit();
    else if (queue == kNetRxQueue)
        deliver();
    else
        throw GuestViolation(fmt::format("notify for net device '{}' queue {}: it has queues 0 (rx) and 1 (tx)",
                                         name(), queue));
}

void NetDevice::transmit()
{
    Virtqueue& tx = queues_[kNetTxQueue];
    const std::size_t max_frame = kEthernetHeader + mtu_;
    do {
        tx.suppress_notifications(true);
        while (auto chain = tx.pop()) {
            // One chain is one frame. Malformed frames are the guest's loss, not fatal.
            if (!chain->writable.empty() || chain->readable_bytes < kMinFrame || chain->readable_bytes > max_frame) {
                ++counters_.tx_dropped;
                tx.push_used(chain->head, 0);
                continue;
            }
            std::size_t len = 0;
            for (const auto& b : chain->readable) {
                std::memcpy(frame_.data() + len, memory_->slice(b.addr, b.len).data(), b.len);
                len += b.len;
            }
            if (::write(tap_.get(), frame_.data(), len) == static_cast<ssize_t>(len)) {
                ++counters_.tx_frames;
                counters_.tx_bytes += len;
            } else {
                ++counters_.tx_dropped; // the host queue is full or the link is down
            }
            tx.push_used(chain->head, 0);
        }
        tx.suppress_notifications(false);
    } while (tx.has_available());
}

int NetDevice::wait_fd() const
{
    // With no rx buffer posted there is nothing to deliver into: waiting on the TAP would
    // only spin.
    return queues_[kNetRxQueue].has_available() ? tap_.get() : -1;
}

bool NetDevice::deliver()
{
    Virtqueue& rx = queues_[kNetRxQueue];
    bool delivered = false;
    // At most one queue's worth per call: a frame written over the rx ring itself must not
    // be able to re-post buffers for ever while the TAP keeps delivering.
    for (unsigned taken = 0; taken < rx.size() && rx.has_available(); ++taken) {
        const ssize_t n = ::read(tap_.get(), frame_.data(), frame_.size());
        if (n < 0)
            break; // EAGAIN: nothing more for now
        auto chain = rx.pop();
        const auto len = static_cast<std::size_t>(n);
        if (!chain->readable.empty() || chain->writable_bytes < len) {
            ++counters_.rx_dropped; // a buffer too small for the frame: the guest sized it wrong
            rx.push_used(chain->head, 0);
            delivered = true;
            continue;
        }
        std::size_t done = 0;
        for (const auto& b : chain->writable) {
            if (done == len)
                break;
            const std::size_t part = std::min<std::size_t>(b.len, len - done);
            std::memcpy(memory_->slice(b.addr, part).data(), frame_.data() + done, part);
            done += part;
        }
        rx.push_used(chain->head, static_cast<uint32_t>(len));
        ++counters_.rx_frames;
        counters_.rx_bytes += len;
        delivered = true;
    }
    return delivered;
}

std::string NetDevice::stats() const
{
    return fmt::format("{}: notifications={} tx-frames={} tx-bytes={} tx-dropped={} rx-frames={} rx-bytes={} "
                       "rx-dropped={}",
                       name(), counters_.notifications, counters_.tx_frames, counters_.tx_bytes, counters_.tx_dropped,
                       counters_.rx_frames, counters_.rx_bytes, counters_.rx_dropped);
}

} // namespace ukrun
