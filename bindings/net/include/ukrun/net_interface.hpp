// A network stack bound to a ukrun NIC, and the event-loop wait that sleeps in the monitor.
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ukrun/net.h>
#include <ukrun/nic.h>
#include <ukrun/ukrun.h>

namespace ukrun::net {

// Frames both ways between one NIC's rings and one Stack. Transmitted frames are batched
// in the NIC's tx ring; the next poll in wait_for_events() hands them over without an exit.
class NicInterface final : public NetLink {
public:
    // Acquires the NIC declared as `device` and starts a stack on it with `config`.
    Error open(const char* device, const Ipv4Config& config)
    {
        nic_ = ukrun_nic_acquire(device);
        if (nic_ == nullptr)
            return Error::InvalidArgument;
        StackConfig stack_config;
        stack_config.link = this;
        stack_config.clock = ukrun_monotonic_ns;
        memcpy(stack_config.mac.bytes, ukrun_nic_mac(nic_), 6);
        const uint32_t mtu = ukrun_nic_mtu(nic_);
        stack_config.mtu = static_cast<uint16_t>(mtu < kMaxMtu ? mtu : kMaxMtu);
        stack_config.ipv4 = config;
        stack_config.seed = ukrun_monotonic_ns() ^ (uint64_t{ukrun_nic_mac(nic_)[5]} << 32);
        return stack_.init(stack_config);
    }

    Stack& stack() { return stack_; }
    const Stack& stack() const { return stack_; }

    bool send_frame(const uint8_t* frame, size_t len) override
    {
        return ukrun_nic_send(nic_, frame, len) == UKRUN_NIC_OK;
    }

    // Feeds every received frame to the stack, then runs its due timers.
    void pump()
    {
        size_t len;
        while ((len = ukrun_nic_receive(nic_, frame_, sizeof(frame_))) != 0)
            stack_.receive_frame(frame_, len);
        stack_.poll(ukrun_monotonic_ns());
    }

    void flush() { ukrun_nic_flush(nic_); }

    // Frames the stack or the driver dropped (malformed, not for us, no room).
    uint64_t dropped() const { return stack_.stats().dropped() + ukrun_nic_dropped(nic_); }

private:
    ukrun_nic* nic_ = nullptr;
    Stack stack_;
    uint8_t frame_[kMaxMtu + 14];
};

// Sleeps until a frame arrives, a stack timer is due or `deadline` passes; the poll also
// hands the monitor every queued frame, so replies cost no notify exit. Returns false once
// the monitor asked the unikernel to stop.
inline bool wait_for_events(NicInterface* const* interfaces, size_t count, uint64_t deadline = UINT64_MAX)
{
    for (size_t i = 0; i < count; ++i) {
        const uint64_t timer = interfaces[i]->stack().next_timer_deadline();
        if (timer < deadline)
            deadline = timer;
    }
    return (ukrun_poll(deadline, nullptr) & UKRUN_POLL_SHUTDOWN) == 0 && !ukrun_shutdown_requested();
}

inline bool wait_for_events(NicInterface& interface, uint64_t deadline = UINT64_MAX)
{
    NicInterface* one[] = {&interface};
    return wait_for_events(one, 1, deadline);
}

// "10.0.0.2" for printing.
inline void format_ipv4(Ipv4Address address, char (&out)[16])
{
    ukrun_snprintf(out, sizeof(out), "%u.%u.%u.%u", address >> 24, (address >> 16) & 0xff, (address >> 8) & 0xff,
                   address & 0xff);
}

// The `port=N` argument (the last one wins), or `default_port` without one. False when N is
// not a port from 1 to 65535.
inline bool parse_port(int argc, const char* const* argv, uint16_t default_port, uint16_t& out)
{
    unsigned long port = default_port;
    for (int i = 1; i < argc; ++i)
        if (strncmp(argv[i], "port=", 5) == 0)
            port = strtoul(argv[i] + 5, nullptr, 10);
    if (port == 0 || port > 65535)
        return false;
    out = static_cast<uint16_t>(port);
    return true;
}

} // namespace ukrun::net
