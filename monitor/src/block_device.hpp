// The block device: a file or block device served over one request virtqueue.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "device.hpp"
#include "guest_memory.hpp"
#include "unique_fd.hpp"

namespace ukrun {

struct BlockBacking {
    std::string path;
    bool readonly = false;
    uint32_t sector_size = 512;
};

inline constexpr uint16_t kBlockQueueSize = 128;
inline constexpr uint32_t kBlockMaxRequest = 1u << 20;

struct BlockGeometry {
    uint64_t capacity = 0; // sectors
    uint32_t sector_size = 512;
    bool readonly = false;
};

// A request parsed from a chain: the typed result of untrusted descriptors.
struct BlockRequest {
    uint32_t type = 0;
    uint64_t offset = 0;                 // byte offset in the backing
    std::vector<GuestBuffer> data;       // the payload, split across guest buffers
    uint64_t data_bytes = 0;
    GuestBuffer status;                  // one byte
};
// A request the device must refuse: the status to report (if there is a status byte).
struct BlockRefusal {
    uint8_t status = UKRUN_BLOCK_S_IOERR;
    std::optional<GuestBuffer> status_byte;
    std::string reason;
};

// Parses and validates one request chain against the device geometry. Pure apart from
// copying the header out of guest memory.
std::variant<BlockRequest, BlockRefusal> parse_block_request(const DescriptorChain& chain, const GuestMemory& memory,
                                                             const BlockGeometry& geometry);

class BlockDevice final : public Device {
public:
    // Opens and checks the backing; DeviceError names the device and the problem.
    BlockDevice(std::string name, const BlockBacking& backing);

    uint32_t type() const override { return UKRUN_DEVICE_BLOCK; }
    std::vector<uint16_t> queue_sizes() const override { return {kBlockQueueSize}; }
    void attach(const GuestMemory& memory, std::vector<Virtqueue> queues) override;
    void describe(ukrun_device_info& info) const override;
    void notify(uint32_t queue) override;
    std::string stats() const override;

    const BlockGeometry& geometry() const noexcept { return geometry_; }

private:
    // Serves one chain and returns the bytes written into its writable buffers.
    uint32_t serve(const DescriptorChain& chain);
    bool transfer(const BlockRequest& request);

    UniqueFd fd_;
    const GuestMemory* memory_ = nullptr;
    BlockGeometry geometry_;
    std::vector<Virtqueue> queues_;
    struct Counters {
        uint64_t notifications = 0, reads = 0, writes = 0, flushes = 0, errors = 0;
        uint64_t bytes_read = 0, bytes_written = 0;
    } counters_;
};

} // namespace ukrun
