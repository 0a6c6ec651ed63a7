// Tests of the checked guest-memory accessor: every range is checked whole, overflow-safe.
#include <catch2/catch.hpp>

#include <vector>

#include "errors.hpp"
#include "guest_memory.hpp"

using namespace ukrun;

TEST_CASE("guest memory accepts ranges wholly inside and rejects the rest", "[guest_memory]")
{
    std::vector<std::byte> backing(4096);
    const GuestMemory memory(backing.data(), backing.size());

    CHECK(memory.contains({0}, 4096));
    CHECK(memory.contains({4096}, 0));
    CHECK(memory.contains({4095}, 1));
    CHECK_FALSE(memory.contains({4095}, 2));
    CHECK_FALSE(memory.contains({4097}, 0));
    CHECK_FALSE(memory.contains({1}, UINT64_MAX));                      // length overflows
    CHECK_FALSE(memory.contains({UINT64_MAX}, 2));                      // start overflows
    CHECK_FALSE(memory.contains({0xfffffffffffff000ull}, 0x2000));      // wraps to a small address

    CHECK(memory.slice({16}, 8).data() == backing.data() + 16);
    CHECK_THROWS_AS(memory.slice({4090}, 7), GuestViolation);
    CHECK_THROWS_WITH(memory.slice({0x5000}, 4), Catch::Contains("0x5000+0x4 lies outside guest memory"));
}

TEST_CASE("guest memory copies values in and out", "[guest_memory]")
{
    std::vector<std::byte> backing(64);
    const GuestMemory memory(backing.data(), backing.size());
    memory.write<uint64_t>({8}, 0x1122334455667788ull);
    CHECK(memory.read<uint64_t>({8}) == 0x1122334455667788ull);
    CHECK(static_cast<uint8_t>(backing[8]) == 0x88);
    CHECK_THROWS_AS(memory.read<uint64_t>({60}), GuestViolation);
    CHECK_THROWS_AS(memory.write<uint32_t>({61}, 1u), GuestViolation);
}
