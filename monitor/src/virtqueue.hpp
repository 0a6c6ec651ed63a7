// The monitor's side of a split virtqueue: every ring validation rule lives in this class.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ukrun/abi.h>

#include "guest_memory.hpp"

namespace ukrun {

// Where a queue lives. The monitor places queues itself and reports them in boot info, so
// geometry is checked once, when the queue is created.
struct QueueGeometry {
    GuestAddr desc;
    GuestAddr avail;
    GuestAddr used;
    uint16_t size = 0;
};

inline constexpr uint16_t kMaxQueueSize = 1024;

// Bytes each area needs (including the event-index word the layout reserves).
constexpr uint64_t desc_table_bytes(uint16_t size) { return 16ull * size; }
constexpr uint64_t avail_ring_bytes(uint16_t size) { return 6ull + 2ull * size; }
constexpr uint64_t used_ring_bytes(uint16_t size) { return 6ull + 8ull * size; }

// One guest buffer of a chain; inside guest memory (checked when the chain was popped).
struct GuestBuffer {
    GuestAddr addr;
    uint32_t len = 0;
};

// A descriptor chain, copied out of the ring once and validated whole.
struct DescriptorChain {
    uint16_t head = 0;
    std::vector<GuestBuffer> readable; // device-readable, in order
    std::vector<GuestBuffer> writable; // device-writable, in order, after all readable ones
    uint64_t readable_bytes = 0;
    uint64_t writable_bytes = 0;
};

class Virtqueue {
public:
    // Throws GuestViolation when the geometry is unusable: size not a power of two in
    // 1..kMaxQueueSize, misaligned areas, or any area outside guest memory.
    Virtqueue(const GuestMemory& memory, const QueueGeometry& geometry, std::string name);

    // The next available chain, or nullopt when the guest has posted nothing new. Guest-
    // controlled values enter here. A corrupt ring (available index jumping by more than
    // the queue size, head or next out of range, a loop or chain longer than the queue,
    // total length overflowing 32 bits, a readable descriptor after a writable one,
    // indirect descriptors, a buffer outside guest memory) throws GuestViolation, which
    // ends the VM.
    std::optional<DescriptorChain> pop();

    // Completes a chain: `written` bytes were written into its writable buffers.
    void push_used(uint16_t head, uint32_t written);

    // While the monitor drains the queue it asks the guest not to notify.
    void suppress_notifications(bool suppress);

    // True when the guest has published chains the monitor has not popped yet.
    bool has_available() const;

    uint16_t size() const noexcept { return size_; }
    const std::string& name() const noexcept { return name_; }

private:
    uint16_t avail_index() const;

    const GuestMemory& memory_;
    QueueGeometry geometry_;
    uint16_t size_;
    std::string name_;
    uint16_t next_avail_ = 0;
    uint16_t next_used_ = 0;
};

} // namespace ukrun
