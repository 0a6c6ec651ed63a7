// Tests of the page-table, GDT, TSS and IDT builder, checked by a software page walk.
#include <catch2/catch.hpp>

#include <sys/mman.h>

#include "elf_image.hpp"
#include "guest_layout.hpp"
#include "unique_fd.hpp"
#include "x86_setup.hpp"

using namespace ukrun;

namespace {

struct TestGuest {
    Mapping ram;
    GuestMemory memory;
    GuestLayout layout;
    uint64_t cr3;

    explicit TestGuest(uint64_t mem_size, const LoadPlan& plan)
        : ram(::mmap(nullptr, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              mem_size),
          memory(ram.data(), mem_size), layout(plan_layout(mem_size, plan, 0)),
          cr3(build_page_tables(memory, layout))
    {
        write_cpu_tables(memory);
    }
    PagePermissions at(uint64_t addr) const { return translate(memory, cr3, addr); }
};

LoadPlan sample_plan()
{
    LoadPlan plan;
    plan.entry = 0x100000;
    plan.segments = {
        {.file_offset = 0x1000, .file_size = 0x3000, .guest_addr = 0x100000, .mem_size = 0x3000,
         .readable = true, .executable = true},
        {.file_offset = 0x4000, .file_size = 0x1000, .guest_addr = 0x103000, .mem_size = 0x1000, .readable = true},
        {.file_offset = 0x5000, .file_size = 0x800, .guest_addr = 0x104000, .mem_size = 0x5000, .readable = true,
         .writable = true},
    };
    plan.image_end = 0x109000;
    return plan;
}

constexpr PagePermissions kNone{};
constexpr PagePermissions kUserRx{.present = true, .user = true, .executable = true};
constexpr PagePermissions kUserR{.present = true, .user = true};
constexpr PagePermissions kUserRw{.present = true, .user = true, .writable = true};

} // namespace

TEST_CASE("page tables give each region exactly its permissions", "[x86]")
{
    const TestGuest guest(64ull << 20, sample_plan());
    const auto& layout = guest.layout;

    CHECK(guest.at(0) == kNone);      // null page
    CHECK(guest.at(0xfff) == kNone);
    CHECK(guest.at(layout::kGdt) == PagePermissions{.present = true});
    CHECK(guest.at(layout::kFaultStubs) == PagePermissions{.present = true, .executable = true});
    CHECK(guest.at(layout::kFaultStackBottom) == PagePermissions{.present = true, .writable = true});
    CHECK(guest.at(layout::kBootInfo) == kUserR);
    CHECK(guest.at(layout::kCmdline) == kUserR);
    CHECK(guest.at(layout::kPageTables) == kNone); // the tables themselves are not mapped

    CHECK(guest.at(0x100000) == kUserRx);
    CHECK(guest.at(0x102fff) == kUserRx);
    CHECK(guest.at(0x103000) == kUserR);
    CHECK(guest.at(0x104000) == kUserRw);
    CHECK(guest.at(0x108fff) == kUserRw);
    CHECK(guest.at(layout.heap_start) == kUserRw);
    CHECK(guest.at(layout.heap_end - 1) == kUserRw);
    CHECK(guest.at(8ull << 20) == kUserRw); // a large-page chunk in the heap
    CHECK(guest.at(layout.stack_guard) == kNone);
    CHECK(guest.at(layout.stack_bottom) == kUserRw);
    CHECK(guest.at(layout.stack_top - 1) == kUserRw);
    CHECK(guest.at(layout.mem_size) == kNone);
    CHECK(guest.at(4ull << 30) == kNone);
}

TEST_CASE("page tables never give a page both write and execute", "[x86]")
{
    const TestGuest guest(16ull << 20, sample_plan());
    for (uint64_t addr = 0; addr < guest.layout.mem_size; addr += layout::kPageSize) {
        const PagePermissions p = guest.at(addr);
        INFO("address 0x" << std::hex << addr);
        REQUIRE_FALSE((p.writable && p.executable && p.user));
    }
}

TEST_CASE("page-table entries have accessed and dirty bits preset", "[x86]")
{
    const TestGuest guest(16ull << 20, sample_plan());
    const uint64_t pml4e = guest.memory.read<uint64_t>({guest.cr3});
    CHECK((pml4e & x86::kPteAccessed) != 0);
    // Walk to the text page's PTE.
    const uint64_t pdpt = pml4e & x86::kPteAddressMask;
    const uint64_t pd = guest.memory.read<uint64_t>({pdpt}) & x86::kPteAddressMask;
    const uint64_t pt = guest.memory.read<uint64_t>({pd}) & x86::kPteAddressMask;
    const uint64_t pte = guest.memory.read<uint64_t>({pt + (0x100000 >> 12) * 8});
    CHECK((pte & (x86::kPteAccessed | x86::kPteDirty)) == (x86::kPteAccessed | x86::kPteDirty));
    CHECK((pte & x86::kPteNoExecute) == 0);
}

TEST_CASE("descriptor tables and the TSS are laid out for CPL 3 entry", "[x86]")
{
    const TestGuest guest(16ull << 20, sample_plan());
    const auto& m = guest.memory;
    CHECK(m.read<uint64_t>({layout::kGdt}) == 0);
    CHECK(m.read<uint64_t>({layout::kGdt + 0x08}) == 0x00af9b000000ffffull); // kernel code 64
    CHECK(m.read<uint64_t>({layout::kGdt + 0x18}) == 0x00cff3000000ffffull); // user data
    CHECK(m.read<uint64_t>({layout::kGdt + 0x20}) == 0x00affb000000ffffull); // user code 64
    CHECK(m.read<uint64_t>({layout::kTss + 4}) == layout::kFaultStackTop);   // RSP0
    CHECK(m.read<uint64_t>({layout::kTss + 36}) == layout::kFaultStackTop);  // IST1

    // I/O bitmap: hypercall ports open, the fault port closed to CPL 3.
    const uint16_t bitmap = m.read<uint16_t>({layout::kTss + 102});
    auto port_blocked = [&](unsigned port) {
        return (m.read<uint8_t>({layout::kTss + bitmap + port / 8}) >> (port % 8)) & 1;
    };
    CHECK_FALSE(port_blocked(UKRUN_HC_PORT_BASE + UKRUN_HC_CONSOLE_WRITE));
    CHECK(port_blocked(UKRUN_FAULT_PORT));

    // IDT gate 14 (#PF) points at its stub, IST 1, present interrupt gate.
    const uint64_t gate = m.read<uint64_t>({layout::kIdt + 14 * 16});
    CHECK((gate & 0xffff) == ((layout::kFaultStubs + 14 * 16) & 0xffff));
    CHECK(((gate >> 16) & 0xffff) == x86::kKernelCodeSelector);
    CHECK(((gate >> 32) & 7) == 1);
    CHECK(((gate >> 40) & 0xff) == 0x8e);
    // The stub reports its vector on the fault port.
    CHECK(m.read<uint8_t>({layout::kFaultStubs + 14 * 16}) == 0xb8);
    CHECK(m.read<uint32_t>({layout::kFaultStubs + 14 * 16 + 1}) == 14);
}

TEST_CASE("initial CPU state starts 64-bit user mode at the entry", "[x86]")
{
    const CpuState cpu = initial_cpu_state(0x10000, 0x100040, 0x4000000, layout::kBootInfo);
    CHECK(cpu.regs.rip == 0x100040);
    CHECK(cpu.regs.rsp == 0x4000000);
    CHECK(cpu.regs.rdi == layout::kBootInfo);
    CHECK(cpu.sregs.cs.dpl == 3);
    CHECK(cpu.sregs.cs.l == 1);
    CHECK((cpu.sregs.cs.selector & 3) == 3);
    CHECK((cpu.sregs.ss.selector & 3) == 3);
    CHECK((cpu.sregs.efer & 0x800) != 0);   // NXE
    CHECK((cpu.sregs.cr0 & 0x10000) != 0);  // WP
    CHECK((cpu.regs.rflags & 0x3000) == 0x3000);
}

TEST_CASE("layout refuses memory too small for image, heap and stack", "[layout]")
{
    CHECK_THROWS_WITH(plan_layout(2ull << 20, sample_plan(), 0), Catch::Contains("too small"));
    const GuestLayout layout = plan_layout(8ull << 20, sample_plan(), 0);
    CHECK(layout.heap_start == 0x109000);
    CHECK(layout.stack_top == 8ull << 20);
    CHECK(layout.stack_guard + layout::kPageSize == layout.stack_bottom);
    CHECK(layout.region_at(0x100000)->kind == RegionKind::Text);
    CHECK(layout.region_at(layout.stack_guard)->kind == RegionKind::StackGuard);
    CHECK(layout.region_at(0xc000) == nullptr);
}
