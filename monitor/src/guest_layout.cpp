// Guest memory layout: monitor area, image segments, rings, heap, guard page and stack.
#include "guest_layout.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "align.hpp"
#include "elf_image.hpp"
#include "errors.hpp"

namespace ukrun {

namespace {

constexpr PagePermissions kSupervisorRead{.present = true};
constexpr PagePermissions kSupervisorReadWrite{.present = true, .writable = true};
constexpr PagePermissions kSupervisorExecute{.present = true, .executable = true};
constexpr PagePermissions kUserRead{.present = true, .user = true};
constexpr PagePermissions kUserReadWrite{.present = true, .user = true, .writable = true};

RegionKind kind_of(const LoadSegment& segment) noexcept
{
    if (segment.executable)
        return RegionKind::Text;
    return segment.writable ? RegionKind::Data : RegionKind::ReadOnlyData;
}

} // namespace

std::string_view region_kind_name(RegionKind kind)
{
    switch (kind) {
    case RegionKind::MonitorPrivate: return "monitor-private memory";
    case RegionKind::BootInfo: return "boot info";
    case RegionKind::Text: return "code";
    case RegionKind::ReadOnlyData: return "read-only data";
    case RegionKind::Data: return "data";
    case RegionKind::Rings: return "device rings";
    case RegionKind::Heap: return "heap";
    case RegionKind::StackGuard: return "stack guard page";
    case RegionKind::Stack: return "stack";
    }
    return "memory";
}

const MemoryRegion* GuestLayout::region_at(uint64_t addr) const noexcept
{
    auto it = std::upper_bound(regions.begin(), regions.end(), addr,
                               [](uint64_t a, const MemoryRegion& r) { return a < r.start; });
    if (it == regions.begin())
        return nullptr;
    --it;
    return addr < it->end ? &*it : nullptr;
}

uint64_t image_limit(uint64_t mem_size) noexcept
{
    const uint64_t reserved = layout::kStackSize + layout::kPageSize + layout::kMinHeapSize;
    return mem_size > reserved ? mem_size - reserved : 0;
}

GuestLayout plan_layout(uint64_t mem_size, const LoadPlan& plan, uint64_t ring_bytes)
{
    GuestLayout out;
    out.mem_size = mem_size;
    out.image_end = align_up(plan.image_end, layout::kPageSize);
    out.rings_start = out.image_end;
    out.rings_end = out.rings_start + align_up(ring_bytes, layout::kPageSize);
    out.stack_top = mem_size;
    out.stack_bottom = mem_size - layout::kStackSize;
    out.stack_guard = out.stack_bottom - layout::kPageSize;
    out.heap_start = out.rings_end;
    out.heap_end = out.stack_guard;
    if (mem_size < layout::kStackSize + layout::kPageSize || out.heap_start > out.heap_end ||
        out.heap_end - out.heap_start < layout::kMinHeapSize)
        throw UsageError(fmt::format("--mem {} MiB is too small for this unikernel (its image ends at 0x{:x}; "
                                     "it needs at least {} MiB)",
                                     mem_size >> 20, out.image_end,
                                     (out.rings_end + layout::kMinHeapSize + layout::kPageSize +
                                      layout::kStackSize + (1 << 20) - 1) >> 20));

    auto& r = out.regions;
    r.push_back({layout::kGdt, layout::kFaultStubs, RegionKind::MonitorPrivate, kSupervisorRead});
    r.push_back({layout::kFaultStubs, layout::kTss, RegionKind::MonitorPrivate, kSupervisorExecute});
    r.push_back({layout::kTss, layout::kTssEnd, RegionKind::MonitorPrivate, kSupervisorRead});
    r.push_back({layout::kFaultStackBottom, layout::kFaultStackTop, RegionKind::MonitorPrivate, kSupervisorReadWrite});
    r.push_back({layout::kBootInfo, layout::kCmdline + layout::kPageSize, RegionKind::BootInfo, kUserRead});
    for (const auto& segment : plan.segments) {
        PagePermissions permissions{.present = true, .user = true, .writable = segment.writable,
                                    .executable = segment.executable};
        const uint64_t end = align_up(segment.guest_addr + segment.mem_size, layout::kPageSize);
        r.push_back({segment.guest_addr, end, kind_of(segment), permissions});
    }
    if (out.rings_end > out.rings_start)
        r.push_back({out.rings_start, out.rings_end, RegionKind::Rings, kUserReadWrite});
    r.push_back({out.heap_start, out.heap_end, RegionKind::Heap, kUserReadWrite});
    r.push_back({out.stack_guard, out.stack_bottom, RegionKind::StackGuard, {}});
    r.push_back({out.stack_bottom, out.stack_top, RegionKind::Stack, kUserReadWrite});
    std::sort(r.begin(), r.end(), [](const MemoryRegion& a, const MemoryRegion& b) { return a.start < b.start; });
    return out;
}

} // namespace ukrun
