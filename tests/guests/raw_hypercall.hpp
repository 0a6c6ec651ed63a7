// Raw port writes for the hostile guests, which must bypass the bindings' well-formed hypercalls.
#pragma once

#include <stdint.h>

inline void raw_out(uint16_t port, uint32_t value)
{
    asm volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

inline uint32_t guest_address(const void* pointer)
{
    return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(pointer));
}
