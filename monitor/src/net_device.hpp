// The net device: Ethernet frames between a TAP interface and the guest's rx/tx virtqueues.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <cstdint>
#include <string>
#include <vector>

#include "device.hpp"
#include "unique_fd.hpp"

namespace ukrun {

// Where a NIC's frames go on the host. The backing is resolved to an open TAP fd before
// the device exists.
struct NetBacking {
    std::string tap_name; // attach to (or create) this TAP; empty when fd >= 0
    int fd = -1;          // an already open TAP fd handed over by a launcher
    std::string container_interface; // `container[:IF]`: take over IF (resolved to fd before the run)
    std::optional<std::array<uint8_t, 6>> mac;
};

inline constexpr uint16_t kNetQueueSize = 256;
inline constexpr uint32_t kNetRxQueue = 0;
inline constexpr uint32_t kNetTxQueue = 1;
inline constexpr std::size_t kEthernetHeader = 14;
inline constexpr std::size_t kMinFrame = kEthernetHeader;

// Attaches to the TAP `name`, creating it (owned by this process) when it does not exist.
// DeviceError names the device and the docker flag that fixes a missing /dev/net/tun or
// CAP_NET_ADMIN.
UniqueFd open_tap(const std::string& device, const std::string& name);

// "02:00:00:00:00:01" → bytes; nullopt when malformed.
std::optional<std::array<uint8_t, 6>> parse_mac(std::string_view text);
std::string format_mac(const std::array<uint8_t, 6>& mac);
// A stable, locally administered unicast MAC derived from the device and TAP names, so a
// guest keeps its address across restarts without configuration.
std::array<uint8_t, 6> default_mac(std::string_view device, std::string_view tap);

class NetDevice final : public Device {
public:
    // Opens or adopts the TAP; DeviceError names the device and the problem (and the
    // docker flag that fixes a missing /dev/net/tun or NET_ADMIN).
    NetDevice(std::string name, const NetBacking& backing);

    uint32_t type() const override { return UKRUN_DEVICE_NET; }
    std::vector<uint16_t> queue_sizes() const override { return {kNetQueueSize, kNetQueueSize}; }
    void attach(const GuestMemory& memory, std::vector<Virtqueue> queues) override;
    void describe(ukrun_device_info& info) const override;
    void notify(uint32_t queue) override;
    int wait_fd() const override;
    bool deliver() override;
    void collect() override { transmit(); }
    std::string stats() const override;

    uint32_t mtu() const noexcept { return mtu_; }
    const std::array<uint8_t, 6>& mac() const noexcept { return mac_; }

private:
    void transmit();

    UniqueFd tap_;
    std::string tap_name_;
    std::array<uint8_t, 6> mac_{};
    uint32_t mtu_ = 1500;
    const GuestMemory* memory_ = nullptr;
    std::vector<Virtqueue> queues_;
    std::vector<std::byte> frame_; // one frame's worth of scratch space
    struct Counters {
        uint64_t notifications = 0, tx_frames = 0, tx_bytes = 0, tx_dropped = 0;
        uint64_t rx_frames = 0, rx_bytes = 0, rx_dropped = 0;
    } counters_;
};

} // namespace ukrun
