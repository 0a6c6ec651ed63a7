// Privileged x86-64 guest state built by the monitor: page tables, GDT, TSS, IDT, fault stubs.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <string_view>

#include "guest_layout.hpp"
#include "guest_memory.hpp"

namespace ukrun {

namespace x86 {
inline constexpr uint16_t kKernelCodeSelector = 0x08;
inline constexpr uint16_t kKernelDataSelector = 0x10;
inline constexpr uint16_t kUserDataSelector = 0x18 | 3;
inline constexpr uint16_t kUserCodeSelector = 0x20 | 3;
inline constexpr uint16_t kTssSelector = 0x28;
inline constexpr unsigned kExceptionVectors = 32;

// Page-table entry bits.
inline constexpr uint64_t kPtePresent = 1ull << 0;
inline constexpr uint64_t kPteWritable = 1ull << 1;
inline constexpr uint64_t kPteUser = 1ull << 2;
inline constexpr uint64_t kPteAccessed = 1ull << 5;
inline constexpr uint64_t kPteDirty = 1ull << 6;
inline constexpr uint64_t kPteLarge = 1ull << 7;
inline constexpr uint64_t kPteNoExecute = 1ull << 63;
inline constexpr uint64_t kPteAddressMask = 0x000f'ffff'ffff'f000ull;

inline constexpr uint64_t kCr0 = 0x80010033; // PG | WP | NE | ET | MP | PE
inline constexpr uint64_t kCr4 = 0x620;      // OSXMMEXCPT | OSFXSR | PAE
inline constexpr uint64_t kEfer = 0xd00;     // NXE | LMA | LME
inline constexpr uint64_t kRflags = 0x3002;  // IOPL 3 (hypercalls via `out` from CPL 3), IF off
} // namespace x86

struct CpuState {
    kvm_regs regs{};
    kvm_sregs sregs{};
};

// Identity-maps guest memory with 4-level page tables in the monitor's page-table area:
// each region gets its permissions (W^X, user/supervisor, NX), everything else is not
// present. Uniform 2 MiB chunks use large pages. Accessed/dirty bits are preset so the CPU
// never writes the tables. Returns CR3. Throws HostError if the tables do not fit.
uint64_t build_page_tables(const GuestMemory& memory, const GuestLayout& layout);

// GDT (flat 64-bit code/data at DPL 0 and 3, a TSS), TSS (RSP0/IST1 on the fault stack)
// and an IDT whose 32 exception gates lead to stubs that report the vector on
// UKRUN_FAULT_PORT.
void write_cpu_tables(const GuestMemory& memory);

// Registers for the first instruction: 64-bit mode, CPL 3, at `entry`, %rdi = boot info.
CpuState initial_cpu_state(uint64_t cr3, uint64_t entry, uint64_t stack_top, uint64_t boot_info);

std::string_view exception_mnemonic(unsigned vector);
std::string_view exception_name(unsigned vector);
bool exception_has_error_code(unsigned vector);

// Software page walk, for diagnosis and tests: the effective permissions of `addr`.
PagePermissions translate(const GuestMemory& memory, uint64_t cr3, uint64_t addr);

} // namespace ukrun
