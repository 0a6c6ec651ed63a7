// Rounding addresses and sizes up to a power-of-two boundary.
#pragma once

#include <cstdint>

namespace ukrun {

// `alignment` is a power of two; callers keep `value` far below 2^64 - alignment (checked
// overflow-safe sizes, or monitor-chosen addresses).
constexpr uint64_t align_up(uint64_t value, uint64_t alignment) noexcept
{
    return (value + alignment - 1) & ~(alignment - 1);
}

} // namespace ukrun
