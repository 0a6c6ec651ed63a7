// Tests of kvm_run decoding, without KVM.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "vcpu_exit.hpp"

using namespace ukrun;

namespace {
struct RunPage {
    std::vector<std::byte> bytes = std::vector<std::byte>(4096);
    kvm_run& run() { return *reinterpret_cast<kvm_run*>(bytes.data()); }
    VcpuExit decode() const { return decode_exit(bytes); }
};
} // namespace

TEST_CASE("port I/O exits carry port, direction, size and value", "[exit]")
{
    RunPage page;
    page.run().exit_reason = KVM_EXIT_IO;
    page.run().io.direction = KVM_EXIT_IO_OUT;
    page.run().io.port = 0x501;
    page.run().io.size = 4;
    page.run().io.count = 1;
    page.run().io.data_offset = 1024;
    const uint32_t value = 0x12345678;
    std::memcpy(page.bytes.data() + 1024, &value, 4);
    const auto exit = page.decode();
    REQUIRE(std::holds_alternative<IoExit>(exit));
    const auto& io = std::get<IoExit>(exit);
    CHECK(io.port == 0x501);
    CHECK(io.is_out);
    CHECK(io.size == 4);
    CHECK(io.value == 0x12345678);
    CHECK(std::string(exit_kind_name(exit)) == "io");
}

TEST_CASE("a data offset outside the run page yields no value", "[exit]")
{
    RunPage page;
    page.run().exit_reason = KVM_EXIT_IO;
    page.run().io.size = 4;
    page.run().io.data_offset = 4094;
    const auto exit = page.decode();
    CHECK(std::get<IoExit>(exit).value == 0);
}

TEST_CASE("other exits decode to their kinds", "[exit]")
{
    RunPage page;
    page.run().exit_reason = KVM_EXIT_SHUTDOWN;
    CHECK(std::holds_alternative<ShutdownExit>(page.decode()));
    page.run().exit_reason = KVM_EXIT_HLT;
    CHECK(std::holds_alternative<HaltExit>(page.decode()));
    page.run().exit_reason = KVM_EXIT_INTERNAL_ERROR;
    page.run().internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
    CHECK(std::get<InternalErrorExit>(page.decode()).suberror == KVM_INTERNAL_ERROR_EMULATION);
    page.run().exit_reason = KVM_EXIT_MMIO;
    page.run().mmio.phys_addr = 0xf000;
    page.run().mmio.is_write = 1;
    page.run().mmio.len = 4;
    const auto mmio = std::get<MmioExit>(page.decode());
    CHECK(mmio.address == 0xf000);
    CHECK(mmio.is_write);
    page.run().exit_reason = 4242;
    CHECK(std::get<UnexpectedExit>(page.decode()).reason == 4242);
    CHECK(std::holds_alternative<UnexpectedExit>(decode_exit(std::span<const std::byte>(page.bytes).first(16))));
}
