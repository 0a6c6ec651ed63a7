// Clocks and waiting: monotonic time from the TSC without exits, wall time and polling via hypercalls.

#include <stdint.h>

#include <ukrun/ukrun.h>

#include "hypercall.hpp"
#include "internal.hpp"

namespace {

uint64_t tsc_at_start;
// Nanoseconds per TSC tick in 32.32 fixed point: (1e9 << 32) / tsc_hz fits in 64 bits
// for any TSC of at least 1 Hz, and the 128-bit product cannot overflow for centuries.
uint64_t ns_per_tick_fixed;
bool shutdown_requested;

uint64_t read_tsc()
{
    uint32_t low;
    uint32_t high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (static_cast<uint64_t>(high) << 32) | low;
}

} // namespace

namespace ukrun {

void clock_init(const ukrun_boot_info& info)
{
    tsc_at_start = read_tsc();
    if (info.tsc_hz == 0)
        ukrun_panic("boot info: tsc_hz is 0");
    ns_per_tick_fixed = (1'000'000'000ull << 32) / info.tsc_hz;
}

} // namespace ukrun

extern "C" {

uint64_t ukrun_monotonic_ns(void)
{
    const uint64_t ticks = read_tsc() - tsc_at_start;
    return static_cast<uint64_t>((static_cast<unsigned __int128>(ticks) * ns_per_tick_fixed) >> 32);
}

uint64_t ukrun_wall_clock_ns(void)
{
    ukrun_hc_wall_clock request{0};
    ukrun::hypercall(UKRUN_HC_WALL_CLOCK, &request);
    return request.ns;
}

uint32_t ukrun_poll(uint64_t deadline_ns, uint64_t* ready)
{
    const uint64_t now = ukrun_monotonic_ns();
    ukrun_hc_poll request{deadline_ns > now ? deadline_ns - now : 0, 0, 0, 0};
    ukrun::hypercall(UKRUN_HC_POLL, &request);
    if ((request.events & UKRUN_POLL_SHUTDOWN) != 0)
        shutdown_requested = true;
    if (ready != nullptr)
        *ready = request.ready;
    return request.events;
}

void ukrun_sleep_ns(uint64_t ns)
{
    const uint64_t now = ukrun_monotonic_ns();
    const uint64_t deadline = ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
    // Device work also ends a poll early; keep waiting until the deadline.
    while (!shutdown_requested && ukrun_monotonic_ns() < deadline)
        ukrun_poll(deadline, nullptr);
}

void ukrun_yield(void)
{
    ukrun_poll(0, nullptr);
}

int ukrun_shutdown_requested(void)
{
    return shutdown_requested ? 1 : 0;
}

} // extern "C"
