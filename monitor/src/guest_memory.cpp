// Checked translation of guest-physical ranges to host memory.
#include "guest_memory.hpp"

#include <fmt/format.h>

#include "errors.hpp"

namespace ukrun {

std::span<std::byte> GuestMemory::slice(GuestAddr addr, uint64_t len) const
{
    if (!contains(addr, len))
        throw GuestViolation(fmt::format("guest range 0x{:x}+0x{:x} lies outside guest memory (0x{:x} bytes)",
                                         addr.value, len, size_));
    return {base_ + addr.value, static_cast<std::size_t>(len)};
}

} // namespace ukrun
