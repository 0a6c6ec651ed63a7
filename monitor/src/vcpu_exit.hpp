// Decoding of a vCPU exit (the kvm_run page) into a typed value, independent of KVM.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <string>
#include <variant>

namespace ukrun {

struct IoExit {
    uint16_t port = 0;
    bool is_out = false;
    uint8_t size = 0;   // bytes per element: 1, 2 or 4
    uint32_t count = 0; // elements (string I/O has more than one)
    uint32_t value = 0; // the first element, zero-extended
};
struct MmioExit {
    uint64_t address = 0;
    bool is_write = false;
    uint32_t length = 0;
};
struct HaltExit {};
struct ShutdownExit {}; // triple fault
struct InternalErrorExit {
    uint32_t suberror = 0;
};
struct FailEntryExit {
    uint64_t reason = 0;
};
struct InterruptedExit {}; // KVM_EXIT_INTR: a signal arrived
struct UnexpectedExit {
    uint32_t reason = 0;
};

using VcpuExit = std::variant<IoExit, MmioExit, HaltExit, ShutdownExit, InternalErrorExit, FailEntryExit,
                              InterruptedExit, UnexpectedExit>;

// `run` is the whole shared kvm_run mapping, so I/O data offsets can be bounds-checked.
VcpuExit decode_exit(std::span<const std::byte> run);

// Short name of an exit kind, for statistics.
const char* exit_kind_name(const VcpuExit& exit);

} // namespace ukrun
