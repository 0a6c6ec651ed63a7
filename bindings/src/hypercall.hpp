// The one way the bindings talk to the monitor: a 32-bit `out` to a ukrun port.
#pragma once

#include <stdint.h>

#include <ukrun/abi.h>

namespace ukrun {

// The port value is the argument struct's guest-physical address; guest RAM lies below
// 4 GiB, so truncating the pointer loses nothing. The memory clobber makes the compiler
// store the struct before the exit and reload its [out] fields after it.
inline void hypercall(uint32_t number, void* argument)
{
    const auto port = static_cast<uint16_t>(UKRUN_HC_PORT_BASE + number);
    const auto value = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(argument));
    asm volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

} // namespace ukrun
