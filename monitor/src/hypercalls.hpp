// The hypercall dispatcher: one `out` from the guest in, one typed action out.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>

#include <ukrun/abi.h>

#include "guest_memory.hpp"

namespace ukrun {

struct PollResult {
    uint64_t ready = 0;  // device bit mask
    uint32_t events = 0; // UKRUN_POLL_*
};

// What the hypercalls need from the rest of the monitor: waiting and device queues.
class HypercallHost {
public:
    virtual ~HypercallHost() = default;
    // Blocks for at most timeout_ns (the host sleeps) until a device has work or a
    // shutdown was requested.
    virtual PollResult poll(uint64_t timeout_ns) = 0;
    // The guest put work on a device queue. Throws GuestViolation for a bad device/queue.
    virtual void notify(uint32_t device, uint32_t queue) = 0;
};

struct HypercallStats {
    std::array<uint64_t, 8> by_number{};
};

struct ResumeGuest {};
struct GuestExited {
    int status = 0;
};
struct GuestAborted {
    std::string message;
};
using HypercallAction = std::variant<ResumeGuest, GuestExited, GuestAborted>;

class Hypercalls {
public:
    Hypercalls(const GuestMemory& memory, HypercallHost& host, int console_fd)
        : memory_(memory), host_(host), console_fd_(console_fd)
    {
    }

    // Handles a port I/O exit in the hypercall range. Guest-controlled values enter here:
    // every address and length is checked, structs are copied out once. Throws
    // GuestViolation for anything outside the ABI (unknown port or number, wrong access
    // size, bad address, out-of-range value).
    HypercallAction handle(uint16_t port, bool is_out, uint8_t size, uint32_t value);

    const HypercallStats& stats() const noexcept { return stats_; }

private:
    HypercallAction console_write(GuestAddr arg);
    HypercallAction wall_clock(GuestAddr arg);
    HypercallAction poll(GuestAddr arg);
    HypercallAction exit(GuestAddr arg);
    HypercallAction abort(GuestAddr arg);
    HypercallAction notify(GuestAddr arg);

    const GuestMemory& memory_;
    HypercallHost& host_;
    int console_fd_;
    HypercallStats stats_;
};

// Name of a hypercall number, for statistics and diagnoses.
const char* hypercall_name(uint32_t number);

} // namespace ukrun
