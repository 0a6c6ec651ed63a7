// Turns an exception frame into a one-line diagnosis in the unikernel's terms.
#include "guest_fault.hpp"

#include <fmt/format.h>

#include "errors.hpp"
#include "x86_setup.hpp"

namespace ukrun {

namespace {

constexpr uint64_t kPfPresent = 1u << 0;
constexpr uint64_t kPfWrite = 1u << 1;
constexpr uint64_t kPfReservedBit = 1u << 3;
constexpr uint64_t kPfInstructionFetch = 1u << 4;

std::string explain_page_fault(const GuestFault& fault, const GuestLayout& layout)
{
    const uint64_t error = fault.error_code.value_or(0);
    const uint64_t address = fault.cr2;
    const bool fetch = error & kPfInstructionFetch;
    const bool write = error & kPfWrite;
    const char* access = fetch ? "execute" : write ? "write" : "read";
    const MemoryRegion* region = layout.region_at(address);

    if (error & kPfReservedBit)
        return fmt::format("reserved bit set in a page-table entry for 0x{:x}", address);
    if (address < layout::kPageSize)
        return fmt::format("null pointer dereference ({} of 0x{:x})", access, address);
    if (region == nullptr) {
        if (address >= layout.mem_size)
            return fmt::format("{} of 0x{:x}, beyond guest memory (0x{:x} bytes)", access, address, layout.mem_size);
        return fmt::format("{} of unmapped address 0x{:x}", access, address);
    }
    if (region->kind == RegionKind::StackGuard)
        return fmt::format("stack overflow ({} of 0x{:x} in the guard page below the stack)", access, address);
    if (!region->permissions.user)
        return fmt::format("{} of 0x{:x} in monitor-private memory", access, address);
    if ((error & kPfPresent) && fetch && !region->permissions.executable)
        return fmt::format("W^X violation: execute of non-executable {} at 0x{:x}", region_kind_name(region->kind),
                           address);
    if ((error & kPfPresent) && write && !region->permissions.writable) {
        if (region->permissions.executable)
            return fmt::format("W^X violation: write to code at 0x{:x}", address);
        return fmt::format("write to {} at 0x{:x}", region_kind_name(region->kind), address);
    }
    return fmt::format("{} of 0x{:x} in {}", access, address, region_kind_name(region->kind));
}

} // namespace

GuestFault read_guest_fault(const GuestMemory& memory, const kvm_regs& regs, const kvm_sregs& sregs)
{
    GuestFault fault;
    fault.vector = static_cast<unsigned>(regs.rax & 0xff);
    fault.cr2 = sregs.cr2;
    uint64_t frame = regs.rsp;
    if (exception_has_error_code(fault.vector)) {
        fault.error_code = memory.read<uint64_t>({frame});
        frame += 8;
    }
    fault.rip = memory.read<uint64_t>({frame});
    fault.cs = static_cast<uint16_t>(memory.read<uint64_t>({frame + 8}));
    fault.rflags = memory.read<uint64_t>({frame + 16});
    fault.rsp = memory.read<uint64_t>({frame + 24});
    return fault;
}

std::string describe_guest_fault(const GuestFault& fault, const GuestLayout& layout, const Symbolizer& symbolize)
{
    std::string what;
    switch (fault.vector) {
    case 14: what = explain_page_fault(fault, layout); break;
    case 0: what = "integer divide by zero or quotient overflow"; break;
    case 3: what = "breakpoint instruction (int3)"; break;
    case 6: what = "invalid or undefined instruction"; break;
    case 13:
        what = fault.error_code.value_or(0) != 0
                   ? fmt::format("protection violation on selector 0x{:x}", fault.error_code.value_or(0))
                   : "privileged instruction or non-canonical address";
        break;
    default: what = std::string(exception_name(fault.vector)); break;
    }
    // A fault with the stack pointer in the guard page is a stack overflow whatever the
    // vector (a push that faults reports the push, not the overflow).
    if (fault.vector != 14) {
        const MemoryRegion* stack = layout.region_at(fault.rsp);
        if (stack != nullptr && stack->kind == RegionKind::StackGuard)
            what = "stack overflow (stack pointer in the guard page)";
    }

    std::string line = fmt::format("guest fault: {} {}: {}", exception_mnemonic(fault.vector),
                                   exception_name(fault.vector), what);
    line += fmt::format(" at rip 0x{:x}", fault.rip);
    if (symbolize) {
        if (std::string symbol = symbolize(fault.rip); !symbol.empty())
            line += fmt::format(" <{}>", symbol);
    }
    if (fault.error_code)
        line += fmt::format(", error code 0x{:x}", *fault.error_code);
    if (fault.vector == 14)
        line += fmt::format(", cr2 0x{:x}", fault.cr2);
    line += fmt::format(", rsp 0x{:x}", fault.rsp);
    return line;
}

} // namespace ukrun
