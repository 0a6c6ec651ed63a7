// Typed decoding of kvm_run exits.
#include "vcpu_exit.hpp"

#include <cstring>

namespace ukrun {

VcpuExit decode_exit(std::span<const std::byte> run_bytes)
{
    kvm_run run;
    if (run_bytes.size() < sizeof(run))
        return UnexpectedExit{~0u};
    std::memcpy(&run, run_bytes.data(), sizeof(run));
    switch (run.exit_reason) {
    case KVM_EXIT_IO: {
        IoExit io;
        io.port = run.io.port;
        io.is_out = run.io.direction == KVM_EXIT_IO_OUT;
        io.size = run.io.size;
        io.count = run.io.count;
        if (io.size <= 4 && run.io.data_offset <= run_bytes.size() &&
            run_bytes.size() - run.io.data_offset >= io.size)
            std::memcpy(&io.value, run_bytes.data() + run.io.data_offset, io.size);
        return io;
    }
    case KVM_EXIT_MMIO:
        return MmioExit{run.mmio.phys_addr, run.mmio.is_write != 0, run.mmio.len};
    case KVM_EXIT_HLT:
        return HaltExit{};
    case KVM_EXIT_SHUTDOWN:
        return ShutdownExit{};
    case KVM_EXIT_INTERNAL_ERROR:
        return InternalErrorExit{run.internal.suberror};
    case KVM_EXIT_FAIL_ENTRY:
        return FailEntryExit{run.fail_entry.hardware_entry_failure_reason};
    case KVM_EXIT_INTR:
        return InterruptedExit{};
    default:
        return UnexpectedExit{run.exit_reason};
    }
}

const char* exit_kind_name(const VcpuExit& exit)
{
    struct Namer {
        const char* operator()(const IoExit&) const { return "io"; }
        const char* operator()(const MmioExit&) const { return "mmio"; }
        const char* operator()(const HaltExit&) const { return "hlt"; }
        const char* operator()(const ShutdownExit&) const { return "shutdown"; }
        const char* operator()(const InternalErrorExit&) const { return "internal-error"; }
        const char* operator()(const FailEntryExit&) const { return "fail-entry"; }
        const char* operator()(const InterruptedExit&) const { return "interrupted"; }
        const char* operator()(const UnexpectedExit&) const { return "unexpected"; }
    };
    return std::visit(Namer{}, exit);
}

} // namespace ukrun
