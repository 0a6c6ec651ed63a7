// Builds the guest's page tables, descriptor tables and exception stubs.
#include "x86_setup.hpp"

#include <array>
#include <cstring>

#include <fmt/format.h>

#include "errors.hpp"

namespace ukrun {

namespace {

using namespace x86;

// Bump allocator over the page-table area; pages come zeroed from fresh guest memory.
class TablePages {
public:
    explicit TablePages(const GuestMemory& memory) : memory_(memory) {}

    uint64_t allocate()
    {
        if (next_ >= layout::kPageTablesEnd)
            throw HostError("guest page tables do not fit the monitor's page-table area");
        const uint64_t page = next_;
        next_ += layout::kPageSize;
        std::memset(memory_.slice({page}, layout::kPageSize).data(), 0, layout::kPageSize);
        return page;
    }

    void set_entry(uint64_t table, unsigned index, uint64_t value) const
    {
        memory_.write<uint64_t>({table + index * 8ull}, value);
    }
    uint64_t entry(uint64_t table, unsigned index) const { return memory_.read<uint64_t>({table + index * 8ull}); }

private:
    const GuestMemory& memory_;
    uint64_t next_ = layout::kPageTables;
};

uint64_t leaf_bits(const PagePermissions& p) noexcept
{
    if (!p.present)
        return 0;
    uint64_t bits = kPtePresent | kPteAccessed | kPteDirty;
    if (p.writable)
        bits |= kPteWritable;
    if (p.user)
        bits |= kPteUser;
    if (!p.executable)
        bits |= kPteNoExecute;
    return bits;
}

constexpr uint16_t kIoBitmapOffset = 104;
constexpr uint32_t kIoBitmapBytes = 65536 / 8;
constexpr uint32_t kTssLimit = kIoBitmapOffset + kIoBitmapBytes; // includes the 0xff terminator
static_assert(layout::kTss + kTssLimit < layout::kTssEnd);

// Intermediate entries grant everything; the leaf decides.
constexpr uint64_t kTableBits = kPtePresent | kPteWritable | kPteUser | kPteAccessed;

uint64_t descriptor(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags) noexcept
{
    return (limit & 0xffffull) | (uint64_t(base & 0xffffff) << 16) | (uint64_t(access) << 40) |
           (uint64_t((limit >> 16) & 0xf) << 48) | (uint64_t(flags & 0xf) << 52) | (uint64_t(base >> 24) << 56);
}

kvm_segment segment(uint16_t selector, uint8_t type, uint8_t dpl, bool code64)
{
    kvm_segment s{};
    s.base = 0;
    s.limit = 0xffffffff;
    s.selector = selector;
    s.type = type;
    s.present = 1;
    s.dpl = dpl;
    s.db = code64 ? 0 : 1;
    s.s = 1;
    s.l = code64 ? 1 : 0;
    s.g = 1;
    return s;
}

} // namespace

uint64_t build_page_tables(const GuestMemory& memory, const GuestLayout& guest)
{
    TablePages pages(memory);
    const uint64_t pml4 = pages.allocate();
    const uint64_t pdpt = pages.allocate();
    pages.set_entry(pml4, 0, pdpt | kTableBits);

    const auto& regions = guest.regions;
    std::size_t next_region = 0;
    uint64_t pd = 0;
    for (uint64_t chunk = 0; chunk < guest.mem_size; chunk += layout::kLargePageSize) {
        const uint64_t chunk_end = chunk + layout::kLargePageSize;
        const auto gib = static_cast<unsigned>(chunk >> 30);
        if ((chunk & ((1ull << 30) - 1)) == 0) {
            pd = pages.allocate();
            pages.set_entry(pdpt, gib, pd | kTableBits);
        }
        const auto pd_index = static_cast<unsigned>((chunk >> 21) & 511);
        while (next_region < regions.size() && regions[next_region].end <= chunk)
            ++next_region;
        // No region touches this chunk: leave it not present.
        if (next_region == regions.size() || regions[next_region].start >= chunk_end)
            continue;
        const MemoryRegion& first = regions[next_region];
        if (first.start <= chunk && first.end >= chunk_end) {
            const uint64_t bits = leaf_bits(first.permissions);
            if (bits != 0)
                pages.set_entry(pd, pd_index, chunk | bits | kPteLarge);
            continue;
        }
        const uint64_t pt = pages.allocate();
        pages.set_entry(pd, pd_index, pt | kTableBits);
        std::size_t r = next_region;
        for (uint64_t page = chunk; page < chunk_end && page < guest.mem_size; page += layout::kPageSize) {
            while (r < regions.size() && regions[r].end <= page)
                ++r;
            if (r == regions.size() || regions[r].start > page)
                continue;
            const uint64_t bits = leaf_bits(regions[r].permissions);
            if (bits != 0)
                pages.set_entry(pt, static_cast<unsigned>((page >> 12) & 511), page | bits);
        }
    }
    return pml4;
}

PagePermissions translate(const GuestMemory& memory, uint64_t cr3, uint64_t addr)
{
    PagePermissions result{.present = true, .user = true, .writable = true, .executable = true};
    uint64_t table = cr3 & kPteAddressMask;
    for (int level = 3; level >= 0; --level) {
        const auto index = static_cast<unsigned>((addr >> (12 + 9 * level)) & 511);
        const uint64_t entry = memory.read<uint64_t>({table + index * 8ull});
        if (!(entry & kPtePresent))
            return {};
        result.user = result.user && (entry & kPteUser);
        result.writable = result.writable && (entry & kPteWritable);
        result.executable = result.executable && !(entry & kPteNoExecute);
        if (level == 0 || (level <= 2 && (entry & kPteLarge)))
            return result;
        table = entry & kPteAddressMask;
    }
    return result;
}

void write_cpu_tables(const GuestMemory& memory)
{
    // GDT: null, kernel code/data, user data/code (sysret order), 16-byte TSS descriptor.
    // Accessed and busy bits are preset so the CPU never writes the table.
    const std::array<uint64_t, 5> gdt{
        0,
        descriptor(0, 0xfffff, 0x9b, 0xa), // kernel code: P, DPL0, code exec/read/accessed; G, L
        descriptor(0, 0xfffff, 0x93, 0xc), // kernel data: P, DPL0, data read/write/accessed; G, DB
        descriptor(0, 0xfffff, 0xf3, 0xc), // user data: DPL3
        descriptor(0, 0xfffff, 0xfb, 0xa), // user code: DPL3, 64-bit
    };
    for (unsigned i = 0; i < gdt.size(); ++i)
        memory.write<uint64_t>({layout::kGdt + i * 8ull}, gdt[i]);
    const uint64_t tss_low = descriptor(static_cast<uint32_t>(layout::kTss), kTssLimit, 0x8b, 0); // busy 64-bit TSS
    memory.write<uint64_t>({layout::kGdt + kTssSelector}, tss_low);
    memory.write<uint64_t>({layout::kGdt + kTssSelector + 8}, layout::kTss >> 32);

    // TSS: RSP0 and IST1 both point at the fault stack. The I/O bitmap opens every port to
    // CPL 3 (unknown ports then exit to the monitor, which diagnoses them) except the fault
    // port, so only the CPL 0 stubs can report an exception.
    memory.write<uint64_t>({layout::kTss + 4}, layout::kFaultStackTop);
    memory.write<uint64_t>({layout::kTss + 36}, layout::kFaultStackTop);
    memory.write<uint16_t>({layout::kTss + 102}, kIoBitmapOffset);
    const auto bitmap = memory.slice({layout::kTss + kIoBitmapOffset}, kIoBitmapBytes + 1);
    std::memset(bitmap.data(), 0, kIoBitmapBytes);
    bitmap[UKRUN_FAULT_PORT / 8] |= std::byte(1u << (UKRUN_FAULT_PORT % 8));
    bitmap[kIoBitmapBytes] = std::byte{0xff};

    for (unsigned vector = 0; vector < kExceptionVectors; ++vector) {
        const uint64_t stub = layout::kFaultStubs + vector * 16ull;
        // mov $vector, %eax; mov $UKRUN_FAULT_PORT, %dx; out %eax, %dx; 1: hlt; jmp 1b
        const std::array<uint8_t, 16> code{0xb8, static_cast<uint8_t>(vector), 0, 0, 0,
                                           0x66, 0xba, UKRUN_FAULT_PORT & 0xff, UKRUN_FAULT_PORT >> 8,
                                           0xef, 0xf4, 0xeb, 0xfd, 0xf4, 0xf4, 0xf4};
        memory.write(GuestAddr{stub}, code);
        // Interrupt gate on IST1. #BP and #OF are DPL 3 so int3/into from the unikernel
        // report themselves instead of a #GP.
        const uint8_t dpl = (vector == 3 || vector == 4) ? 3 : 0;
        const uint64_t low = (stub & 0xffff) | (uint64_t(kKernelCodeSelector) << 16) | (1ull << 32) |
                             (uint64_t(0x8e | (dpl << 5)) << 40) | ((stub >> 16 & 0xffff) << 48);
        memory.write<uint64_t>({layout::kIdt + vector * 16ull}, low);
        memory.write<uint64_t>({layout::kIdt + vector * 16ull + 8}, stub >> 32);
    }
}

CpuState initial_cpu_state(uint64_t cr3, uint64_t entry, uint64_t stack_top, uint64_t boot_info)
{
    CpuState state;
    state.regs.rip = entry;
    state.regs.rsp = stack_top;
    state.regs.rdi = boot_info;
    state.regs.rflags = kRflags;

    auto& s = state.sregs;
    s.cs = segment(kUserCodeSelector, 0xb, 3, true);
    s.ss = segment(kUserDataSelector, 0x3, 3, false);
    s.ds = s.es = s.fs = s.gs = s.ss;
    s.tr.base = layout::kTss;
    s.tr.limit = kTssLimit;
    s.tr.selector = kTssSelector;
    s.tr.type = 0xb;
    s.tr.present = 1;
    s.ldt.unusable = 1;
    s.gdt.base = layout::kGdt;
    s.gdt.limit = kTssSelector + 16 - 1;
    s.idt.base = layout::kIdt;
    s.idt.limit = kExceptionVectors * 16 - 1;
    s.cr0 = kCr0;
    s.cr3 = cr3;
    s.cr4 = kCr4;
    s.efer = kEfer;
    return state;
}

std::string_view exception_mnemonic(unsigned vector)
{
    static constexpr std::array<std::string_view, 32> names{
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS",
        "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
        "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31"};
    return vector < names.size() ? names[vector] : "#??";
}

std::string_view exception_name(unsigned vector)
{
    static constexpr std::array<std::string_view, 32> names{
        "divide error", "debug", "non-maskable interrupt", "breakpoint", "overflow", "bound range exceeded",
        "invalid opcode", "device not available", "double fault", "coprocessor segment overrun",
        "invalid TSS", "segment not present", "stack-segment fault", "general protection fault",
        "page fault", "reserved", "x87 floating-point error", "alignment check", "machine check",
        "SIMD floating-point exception", "virtualization exception", "control protection exception",
        "reserved", "reserved", "reserved", "reserved", "reserved", "reserved",
        "hypervisor injection exception", "VMM communication exception", "security exception", "reserved"};
    return vector < names.size() ? names[vector] : "unknown exception";
}

bool exception_has_error_code(unsigned vector)
{
    switch (vector) {
    case 8: case 10: case 11: case 12: case 13: case 14: case 17: case 21: case 29: case 30: return true;
    default: return false;
    }
}

} // namespace ukrun
