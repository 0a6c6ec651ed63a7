// Where everything lives in guest-physical memory, and with which page permissions.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <ukrun/abi.h>

namespace ukrun {

struct LoadPlan;

// The monitor's private area below UKRUN_GUEST_LOAD_MIN. Page 0 stays unmapped so a null
// dereference faults; nothing here is reachable from CPL 3 except the read-only boot info.
namespace layout {
inline constexpr uint64_t kPageSize = UKRUN_PAGE_SIZE;
inline constexpr uint64_t kLargePageSize = 2ull << 20;
inline constexpr uint64_t kGdt = 0x1000;
inline constexpr uint64_t kIdt = 0x2000;
inline constexpr uint64_t kFaultStubs = 0x3000;
// TSS followed by a full I/O permission bitmap (8 KiB + terminator): KVM does not honour
// IOPL on every host, the bitmap opens ports to CPL 3 everywhere.
inline constexpr uint64_t kTss = 0x4000;
inline constexpr uint64_t kTssEnd = 0x7000;
inline constexpr uint64_t kBootInfo = 0x7000;
inline constexpr uint64_t kCmdline = 0x8000;
inline constexpr uint64_t kPageTables = 0x10000;
inline constexpr uint64_t kPageTablesEnd = UKRUN_GUEST_LOAD_MIN - 0x2000;
// Everything below here is in a read-only memory slot: even code at CPL 0 cannot change
// the tables. The fault stack above it is the only monitor memory the CPU writes.
inline constexpr uint64_t kReadOnlyEnd = kPageTablesEnd;
inline constexpr uint64_t kFaultStackBottom = kPageTablesEnd;
inline constexpr uint64_t kFaultStackTop = UKRUN_GUEST_LOAD_MIN;
inline constexpr uint64_t kStackSize = 1ull << 20;
inline constexpr uint64_t kMinHeapSize = 1ull << 20;
inline constexpr uint64_t kMaxMemSize = 4ull << 30; // hypercall arguments are 32-bit addresses
inline constexpr uint64_t kDefaultMemSize = 64ull << 20;
static_assert(sizeof(ukrun_boot_info) <= kPageSize);
static_assert(UKRUN_CMDLINE_MAX <= kPageSize);
} // namespace layout

enum class RegionKind : uint8_t {
    MonitorPrivate, // GDT, IDT, TSS, exception stubs and stack
    BootInfo,       // boot info and command line, user read-only
    Text,
    ReadOnlyData,
    Data,
    Rings, // device queues and buffers the monitor placed
    Heap,
    StackGuard,
    Stack,
};

std::string_view region_kind_name(RegionKind kind);

struct PagePermissions {
    bool present = false;
    bool user = false;
    bool writable = false;
    bool executable = false;
    friend bool operator==(const PagePermissions&, const PagePermissions&) = default;
};

// A page-aligned range [start, end) with one set of permissions.
struct MemoryRegion {
    uint64_t start = 0;
    uint64_t end = 0;
    RegionKind kind = RegionKind::Heap;
    PagePermissions permissions;
};

struct GuestLayout {
    uint64_t mem_size = 0;
    uint64_t image_end = 0; // page-aligned end of the highest ELF segment
    uint64_t rings_start = 0, rings_end = 0;
    uint64_t heap_start = 0, heap_end = 0;
    uint64_t stack_guard = 0; // one unmapped page below the stack
    uint64_t stack_bottom = 0, stack_top = 0;
    // Sorted, non-overlapping regions; addresses in no region are unmapped.
    std::vector<MemoryRegion> regions;

    const MemoryRegion* region_at(uint64_t addr) const noexcept;
};

// Highest address an ELF segment may end at for a given memory size (the stack, its guard
// page and a minimal heap sit above the image).
uint64_t image_limit(uint64_t mem_size) noexcept;

// Places rings, heap, guard page and stack around a parsed image. Throws UsageError when
// mem_size cannot hold them.
GuestLayout plan_layout(uint64_t mem_size, const LoadPlan& plan, uint64_t ring_bytes);

} // namespace ukrun
