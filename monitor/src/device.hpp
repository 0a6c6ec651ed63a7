// The interface every attached device (block, net) implements for the monitor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ukrun/abi.h>

#include "virtqueue.hpp"

namespace ukrun {

class Device {
public:
    explicit Device(std::string name) : name_(std::move(name)) {}
    virtual ~Device() = default;
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    const std::string& name() const noexcept { return name_; }
    virtual uint32_t type() const = 0;
    virtual std::vector<uint16_t> queue_sizes() const = 0;

    // Hands over guest memory and the queues the monitor placed, in queue_sizes() order.
    virtual void attach(const GuestMemory& memory, std::vector<Virtqueue> queues) = 0;
    // Fills the type-specific part of the device's boot info entry.
    virtual void describe(ukrun_device_info& info) const = 0;
    // The guest posted work on `queue` (a notify hypercall). Throws GuestViolation for a
    // corrupt ring or a queue index the device does not have.
    virtual void notify(uint32_t queue) = 0;
    // A host fd whose readability means the device may have work for the guest, or -1.
    virtual int wait_fd() const { return -1; }
    // Moves whatever the host has for the guest into its queues; true if the guest now
    // has something to pick up.
    virtual bool deliver() { return false; }
    // Takes work the guest queued without notifying. Called on every poll, so a guest that
    // is about to wait anyway saves the notify exit (net transmit).
    virtual void collect() {}
    // "name: key=value ..." for --stats.
    virtual std::string stats() const = 0;

private:
    std::string name_;
};

} // namespace ukrun
