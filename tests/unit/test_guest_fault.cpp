// Tests of fault diagnosis: frames become one line in the unikernel's terms.
#include <catch2/catch.hpp>

#include <vector>

#include "elf_image.hpp"
#include "guest_fault.hpp"
#include "x86_setup.hpp"

using namespace ukrun;

namespace {

GuestLayout test_layout()
{
    LoadPlan plan;
    plan.segments = {
        {.guest_addr = 0x100000, .mem_size = 0x2000, .readable = true, .executable = true},
        {.guest_addr = 0x102000, .mem_size = 0x1000, .readable = true},
        {.guest_addr = 0x103000, .mem_size = 0x1000, .readable = true, .writable = true},
    };
    plan.image_end = 0x104000;
    return plan_layout(16ull << 20, plan, 0);
}

std::string describe(unsigned vector, std::optional<uint64_t> error, uint64_t cr2, uint64_t rsp = 0xf00000)
{
    GuestFault f;
    f.vector = vector;
    f.error_code = error;
    f.rip = 0x100010;
    f.rsp = rsp;
    f.cr2 = cr2;
    return describe_guest_fault(f, test_layout(), [](uint64_t a) { return a == 0x100010 ? "main+0x10" : ""; });
}

} // namespace

TEST_CASE("page faults are explained in the unikernel's terms", "[fault]")
{
    CHECK_THAT(describe(14, 4, 0), Catch::Contains("#PF page fault: null pointer dereference (read of 0x0)") &&
                                       Catch::Contains("rip 0x100010 <main+0x10>") &&
                                       Catch::Contains("error code 0x4") && Catch::Contains("cr2 0x0"));
    CHECK_THAT(describe(14, 7, 0x100004), Catch::Contains("W^X violation: write to code at 0x100004"));
    CHECK_THAT(describe(14, 0x15, 0x103008), Catch::Contains("W^X violation: execute of non-executable data"));
    CHECK_THAT(describe(14, 0x15, 0xfff000), Catch::Contains("execute of non-executable stack"));
    CHECK_THAT(describe(14, 7, 0x102000), Catch::Contains("write to read-only data"));
    const GuestLayout layout = test_layout();
    CHECK_THAT(describe(14, 6, layout.stack_guard + 8), Catch::Contains("stack overflow"));
    CHECK_THAT(describe(14, 5, layout::kGdt), Catch::Contains("monitor-private memory"));
    CHECK_THAT(describe(14, 4, 0x20000000), Catch::Contains("beyond guest memory"));
    CHECK_THAT(describe(14, 4, 0xc000), Catch::Contains("unmapped address 0xc000"));
}

TEST_CASE("other exceptions are named", "[fault]")
{
    CHECK_THAT(describe(0, std::nullopt, 0), Catch::Contains("#DE divide error"));
    CHECK_THAT(describe(6, std::nullopt, 0), Catch::Contains("#UD invalid opcode"));
    CHECK_THAT(describe(3, std::nullopt, 0), Catch::Contains("#BP breakpoint"));
    CHECK_THAT(describe(13, 0, 0), Catch::Contains("#GP general protection fault"));
    const GuestLayout layout = test_layout();
    CHECK_THAT(describe(13, 0, 0, layout.stack_guard + 16), Catch::Contains("stack overflow"));
}

TEST_CASE("the exception frame is read from the fault stack", "[fault]")
{
    std::vector<std::byte> ram(0x10000);
    const GuestMemory memory(ram.data(), ram.size());
    const uint64_t frame = 0x8000;
    memory.write<uint64_t>({frame}, 0x6);          // error code
    memory.write<uint64_t>({frame + 8}, 0x100123); // rip
    memory.write<uint64_t>({frame + 16}, 0x23);    // cs
    memory.write<uint64_t>({frame + 24}, 0x202);   // rflags
    memory.write<uint64_t>({frame + 32}, 0xeff0);  // rsp
    kvm_regs regs{};
    regs.rax = 14;
    regs.rsp = frame;
    kvm_sregs sregs{};
    sregs.cr2 = 0x42;
    const GuestFault f = read_guest_fault(memory, regs, sregs);
    CHECK(f.vector == 14);
    CHECK(f.error_code == 6u);
    CHECK(f.rip == 0x100123);
    CHECK(f.cs == 0x23);
    CHECK(f.rsp == 0xeff0);
    CHECK(f.cr2 == 0x42);

    regs.rax = 6; // #UD pushes no error code
    const GuestFault ud = read_guest_fault(memory, regs, sregs);
    CHECK_FALSE(ud.error_code.has_value());
    CHECK(ud.rip == 0x6);
}
