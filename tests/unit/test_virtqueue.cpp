// Tests of the monitor's virtqueue against the bindings' ring driver and against hand-corrupted rings.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "errors.hpp"
#include "fake_guest.hpp"
#include "virtqueue.hpp"

using namespace ukrun;
using ukrun::test::FakeGuest;

namespace {

Virtqueue make_queue(const FakeGuest& guest)
{
    return Virtqueue(guest.memory, guest.geometry, "test queue");
}

// A fresh queue over `guest` with a given geometry, for constructor checks.
void construct(const FakeGuest& guest, const QueueGeometry& geometry)
{
    Virtqueue queue(guest.memory, geometry, "q");
}

// The chain that `head` is published as must be rejected with `diagnosis`.
void check_pop_rejects(const FakeGuest& guest, uint16_t head, const std::string& diagnosis)
{
    Virtqueue queue = make_queue(guest);
    guest.publish_raw(head);
    CHECK_THROWS_AS(queue.pop(), GuestViolation);
    Virtqueue again = make_queue(guest);
    CHECK_THROWS_WITH(again.pop(), Catch::Contains("test queue: ") && Catch::Contains(diagnosis));
}

} // namespace

TEST_CASE("queue geometry: the size must be a power of two in 1..1024", "[virtqueue]")
{
    const FakeGuest guest(16);
    for (const int size : {0, 3, 6, 100, 1023, 2048}) {
        QueueGeometry g = guest.geometry;
        g.size = static_cast<uint16_t>(size);
        INFO("size " << size);
        CHECK_THROWS_WITH(construct(guest, g), Catch::Contains(fmt::format("q: queue size {} is not a power of two "
                                                                           "in 1..1024", size)));
    }
    QueueGeometry g = guest.geometry;
    g.size = 0xffff;
    CHECK_THROWS_AS(construct(guest, g), GuestViolation);
    for (const int size : {1, 2, 64, 1024}) {
        g.size = static_cast<uint16_t>(size);
        CHECK_NOTHROW(construct(guest, g));
    }
}

TEST_CASE("queue geometry: every area must be aligned", "[virtqueue]")
{
    const FakeGuest guest(16);
    const QueueGeometry good = guest.geometry;
    QueueGeometry g = good;
    g.desc.value += 8;
    CHECK_THROWS_WITH(construct(guest, g), Catch::Contains("q: misaligned queue areas (desc 0x1008"));
    g = good;
    g.avail.value += 1;
    CHECK_THROWS_WITH(construct(guest, g), Catch::Contains("misaligned queue areas") && Catch::Contains("avail 0x"));
    g = good;
    g.used.value += 2;
    CHECK_THROWS_WITH(construct(guest, g), Catch::Contains("misaligned queue areas"));
    // The minimum alignments themselves are enough.
    g = good;
    g.avail.value += 2;
    g.used.value += 4;
    CHECK_NOTHROW(construct(guest, g));
}

TEST_CASE("queue geometry: every area must lie wholly inside guest memory", "[virtqueue]")
{
    const FakeGuest guest(16, 64 * 1024);
    const uint64_t mem = guest.memory.size();
    const QueueGeometry good = guest.geometry;
    const std::string outside = "q: queue areas lie outside guest memory";

    QueueGeometry g = good;
    g.desc = {mem - desc_table_bytes(16) + 16}; // last descriptor crosses the end
    CHECK_THROWS_WITH(construct(guest, g), Catch::Contains(outside));
    g = good;
    g.avail = {mem - avail_ring_bytes(16) + 2};
    CHECK_THROWS_WITH(construct(guest, g), Catch::Contains(outside));
    g = good;
    g.used = {mem - used_ring_bytes(16) + 2}; // still 4-byte aligned, two bytes past the end
    CHECK_THROWS_WITH(construct(guest, g), Catch::Contains(outside));
    g = good;
    g.used = {0xfffffffffffffff0ull}; // the end would wrap to a small address
    CHECK_THROWS_WITH(construct(guest, g), Catch::Contains(outside));
    g = good;
    g.desc = {mem + 4096};
    CHECK_THROWS_WITH(construct(guest, g), Catch::Contains(outside));

    // Areas that end exactly at the end of memory are fine.
    g = good;
    g.desc = {mem - desc_table_bytes(16)};
    g.used = {mem - used_ring_bytes(16) - 2}; // 4-byte aligned: 6 + 128 is 2 mod 4
    CHECK_NOTHROW(construct(guest, g));
    g = good;
    g.avail = {mem - avail_ring_bytes(16)};
    CHECK_NOTHROW(construct(guest, g));
}

TEST_CASE("an empty queue pops nothing and has nothing available", "[virtqueue]")
{
    const FakeGuest guest(16);
    Virtqueue queue = make_queue(guest);
    CHECK(queue.size() == 16);
    CHECK(queue.name() == "test queue");
    CHECK_FALSE(queue.has_available());
    CHECK_FALSE(queue.pop().has_value());
}

TEST_CASE("chains from the driver pop in order with their buffers split by direction", "[virtqueue]")
{
    FakeGuest guest(16);
    Vring driver = guest.driver();
    REQUIRE(driver.valid());
    Virtqueue queue = make_queue(guest);

    const uint64_t a = guest.alloc(16), b = guest.alloc(100), c = guest.alloc(1), d = guest.alloc(4096);
    const VringBuffer first[] = {{a, 16, false}, {b, 100, false}, {c, 1, true}};
    const VringBuffer second[] = {{d, 4096, true}};
    const VringBuffer third[] = {{a, 16, false}};
    const uint16_t h1 = driver.add(first, 3);
    const uint16_t h2 = driver.add(second, 1);
    const uint16_t h3 = driver.add(third, 1);
    REQUIRE(h1 != Vring::no_head);
    REQUIRE(h2 != Vring::no_head);
    REQUIRE(h3 != Vring::no_head);
    // Not visible until published.
    CHECK_FALSE(queue.has_available());
    driver.publish(h1);
    driver.publish(h2);
    driver.publish(h3);
    CHECK(queue.has_available());

    auto c1 = queue.pop();
    REQUIRE(c1);
    CHECK(c1->head == h1);
    REQUIRE(c1->readable.size() == 2);
    CHECK(c1->readable[0].addr.value == a);
    CHECK(c1->readable[0].len == 16);
    CHECK(c1->readable[1].addr.value == b);
    CHECK(c1->readable[1].len == 100);
    REQUIRE(c1->writable.size() == 1);
    CHECK(c1->writable[0].addr.value == c);
    CHECK(c1->readable_bytes == 116);
    CHECK(c1->writable_bytes == 1);

    auto c2 = queue.pop();
    REQUIRE(c2);
    CHECK(c2->head == h2);
    CHECK(c2->readable.empty());
    REQUIRE(c2->writable.size() == 1);
    CHECK(c2->writable[0].addr.value == d);
    CHECK(c2->writable_bytes == 4096);

    auto c3 = queue.pop();
    REQUIRE(c3);
    CHECK(c3->head == h3);
    CHECK(c3->writable.empty());
    CHECK(c3->readable_bytes == 16);

    CHECK_FALSE(queue.has_available());
    CHECK_FALSE(queue.pop().has_value());
}

TEST_CASE("push_used writes the element, then the index, and the driver takes it back", "[virtqueue]")
{
    FakeGuest guest(8);
    Vring driver = guest.driver();
    Virtqueue queue = make_queue(guest);
    const uint64_t buf = guest.alloc(64);
    const VringBuffer chain[] = {{buf, 8, false}, {buf + 8, 56, true}};
    const uint16_t h1 = driver.add(chain, 2);
    const uint16_t h2 = driver.add(chain, 2);
    driver.publish(h1);
    driver.publish(h2);
    REQUIRE(queue.pop());
    REQUIRE(queue.pop());

    // Completion out of order is allowed; the used ring records exactly what was pushed.
    queue.push_used(h2, 56);
    CHECK(guest.used_idx() == 1);
    CHECK(guest.used_ring(0).id == h2);
    CHECK(guest.used_ring(0).len == 56);
    queue.push_used(h1, 3);
    CHECK(guest.used_idx() == 2);
    CHECK(guest.used_ring(1).id == h1);
    CHECK(guest.used_ring(1).len == 3);

    VringUsed used{};
    REQUIRE(driver.harvest(used) == VringHarvest::completed);
    CHECK(used.head == h2);
    CHECK(used.len == 56);
    REQUIRE(driver.harvest(used) == VringHarvest::completed);
    CHECK(used.head == h1);
    CHECK(used.len == 3);
    CHECK(driver.harvest(used) == VringHarvest::empty);
    CHECK(driver.free_count() == 8);
}

TEST_CASE("a chain may use every descriptor of the queue", "[virtqueue]")
{
    FakeGuest guest(16);
    Vring driver = guest.driver();
    Virtqueue queue = make_queue(guest);
    std::vector<VringBuffer> buffers;
    for (int i = 0; i < 16; ++i)
        buffers.push_back({guest.alloc(32), 32, i >= 8});
    const uint16_t head = driver.add(buffers.data(), buffers.size());
    REQUIRE(head != Vring::no_head);
    driver.publish(head);
    auto chain = queue.pop();
    REQUIRE(chain);
    CHECK(chain->readable.size() == 8);
    CHECK(chain->writable.size() == 8);
    CHECK(chain->readable_bytes == 256);
    CHECK(chain->writable_bytes == 256);
}

TEST_CASE("free-running 16-bit ring indices wrap past 65535", "[virtqueue]")
{
    // The monitor's queue always starts at index 0 (it is created at boot), so the wrap is
    // reached by real traffic: 65536 + 100 round trips, the last batches straddling it.
    FakeGuest guest(16);
    Vring driver = guest.driver();
    Virtqueue queue = make_queue(guest);
    const uint64_t buf = guest.alloc(16);
    const VringBuffer one[] = {{buf, 16, true}};

    auto round_trip = [&](unsigned batch, uint32_t tag) {
        std::vector<uint16_t> heads;
        for (unsigned i = 0; i < batch; ++i) {
            heads.push_back(driver.add(one, 1));
            driver.publish(heads.back());
        }
        for (unsigned i = 0; i < batch; ++i) {
            auto chain = queue.pop();
            REQUIRE(chain);
            REQUIRE(chain->head == heads[i]);
            queue.push_used(chain->head, tag + i);
        }
        REQUIRE_FALSE(queue.pop());
        for (unsigned i = 0; i < batch; ++i) {
            VringUsed used{};
            REQUIRE(driver.harvest(used) == VringHarvest::completed);
            REQUIRE(used.head == heads[i]);
            REQUIRE(used.len == tag + i);
        }
    };

    uint32_t done = 0;
    while (done < 65536 - 10) {
        round_trip(1, done);
        ++done;
    }
    CHECK(guest.avail_idx() == 65526);
    CHECK(guest.used_idx() == 65526);
    // One full batch across the wrap: available index goes 65526 -> 6 in one go.
    round_trip(16, done);
    done += 16;
    CHECK(guest.avail_idx() == 6);
    CHECK(guest.used_idx() == 6);
    for (int i = 0; i < 100; ++i, ++done)
        round_trip(1, done);
    CHECK(guest.avail_idx() == static_cast<uint16_t>(done));
    CHECK(guest.used_idx() == static_cast<uint16_t>(done));
    CHECK(driver.free_count() == 16);
}

TEST_CASE("the available index may not jump by more than the queue size", "[virtqueue]")
{
    const FakeGuest guest(16);
    Virtqueue queue = make_queue(guest);
    guest.avail_idx() = 17;
    CHECK_THROWS_WITH(queue.pop(), Catch::Contains("test queue: available index jumped by 17 (queue size 16)"));

    // Backwards is a jump of almost 65536.
    const FakeGuest back(16);
    Virtqueue queue2 = make_queue(back);
    back.avail_idx() = 0xffff;
    CHECK_THROWS_WITH(queue2.pop(), Catch::Contains("available index jumped by 65535"));

    // Exactly the queue size is a full ring, not a corruption.
    FakeGuest full(16);
    const uint64_t buf = full.alloc(16);
    for (uint16_t i = 0; i < 16; ++i) {
        full.put_desc(i, buf, 16, 0);
        full.publish_raw(i);
    }
    Virtqueue queue3 = make_queue(full);
    for (uint16_t i = 0; i < 16; ++i) {
        auto chain = queue3.pop();
        REQUIRE(chain);
        CHECK(chain->head == i);
    }
    CHECK_FALSE(queue3.pop());
}

TEST_CASE("the available ring may only name descriptors inside the table", "[virtqueue]")
{
    const FakeGuest guest(16);
    guest.put_desc(0, guest.geometry.desc.value, 16, 0);
    check_pop_rejects(guest, 16, "available ring names descriptor 16 (queue size 16)");
    const FakeGuest guest2(16);
    check_pop_rejects(guest2, 0xffff, "available ring names descriptor 65535 (queue size 16)");
}

TEST_CASE("a descriptor may only link to descriptors inside the table", "[virtqueue]")
{
    FakeGuest guest(16);
    const uint64_t buf = guest.alloc(64);
    guest.put_desc(3, buf, 8, UKRUN_VRING_DESC_F_NEXT, 5);
    guest.put_desc(5, buf, 8, UKRUN_VRING_DESC_F_NEXT, 16);
    check_pop_rejects(guest, 3, "descriptor 5 links to 16 (queue size 16)");
}

TEST_CASE("descriptor loops and chains longer than the queue are rejected", "[virtqueue]")
{
    FakeGuest guest(16);
    const uint64_t buf = guest.alloc(64);
    SECTION("a descriptor linking to itself")
    {
        guest.put_desc(2, buf, 8, UKRUN_VRING_DESC_F_NEXT, 2);
        check_pop_rejects(guest, 2, "chain at descriptor 2 is longer than the queue (a loop?)");
    }
    SECTION("a two-descriptor cycle")
    {
        guest.put_desc(0, buf, 8, UKRUN_VRING_DESC_F_NEXT, 1);
        guest.put_desc(1, buf, 8, UKRUN_VRING_DESC_F_NEXT, 0);
        check_pop_rejects(guest, 0, "chain at descriptor 0 is longer than the queue");
    }
    SECTION("a chain through every descriptor that then links back")
    {
        for (uint16_t i = 0; i < 16; ++i)
            guest.put_desc(i, buf, 8, UKRUN_VRING_DESC_F_NEXT, static_cast<uint16_t>((i + 1) % 16));
        check_pop_rejects(guest, 0, "chain at descriptor 0 is longer than the queue");
    }
    SECTION("a loop in the writable part")
    {
        guest.put_desc(0, buf, 8, UKRUN_VRING_DESC_F_NEXT, 1);
        guest.put_desc(1, buf, 8, UKRUN_VRING_DESC_F_NEXT | UKRUN_VRING_DESC_F_WRITE, 2);
        guest.put_desc(2, buf, 8, UKRUN_VRING_DESC_F_NEXT | UKRUN_VRING_DESC_F_WRITE, 1);
        check_pop_rejects(guest, 0, "longer than the queue");
    }
}

TEST_CASE("every buffer must lie wholly inside guest memory", "[virtqueue]")
{
    FakeGuest guest(16, 1u << 20);
    const uint64_t mem = guest.memory.size();
    SECTION("crossing the end")
    {
        guest.put_desc(0, mem - 4, 8, 0);
        check_pop_rejects(guest, 0, "descriptor 0 buffer 0xffffc+0x8 lies outside guest memory");
    }
    SECTION("starting beyond the end")
    {
        guest.put_desc(0, mem, 1, 0);
        check_pop_rejects(guest, 0, "descriptor 0 buffer 0x100000+0x1 lies outside guest memory");
    }
    SECTION("an address that wraps around")
    {
        guest.put_desc(0, 0xfffffffffffff000ull, 0x2000, UKRUN_VRING_DESC_F_WRITE);
        check_pop_rejects(guest, 0, "lies outside guest memory");
    }
    SECTION("the second buffer of a chain")
    {
        guest.put_desc(0, 0x10000, 16, UKRUN_VRING_DESC_F_NEXT, 1);
        guest.put_desc(1, mem - 0x100, 0x101, UKRUN_VRING_DESC_F_WRITE);
        check_pop_rejects(guest, 0, "descriptor 1 buffer 0xfff00+0x101 lies outside guest memory");
    }
    SECTION("a zero-length buffer exactly at the end is inside")
    {
        guest.put_desc(0, mem, 0, UKRUN_VRING_DESC_F_WRITE);
        Virtqueue queue = make_queue(guest);
        guest.publish_raw(0);
        auto chain = queue.pop();
        REQUIRE(chain);
        CHECK(chain->writable_bytes == 0);
    }
}

TEST_CASE("a chain longer than 4 GiB in total is rejected", "[virtqueue]")
{
    // Each buffer is inside (lazily backed, never touched) 1 GiB of guest memory, but five
    // of them overflow a 32-bit used length.
    FakeGuest guest(16, 1ull << 30);
    const uint64_t gib = 1ull << 30;
    SECTION("readable buffers")
    {
        for (uint16_t i = 0; i < 5; ++i)
            guest.put_desc(i, 0, static_cast<uint32_t>(gib), UKRUN_VRING_DESC_F_NEXT, static_cast<uint16_t>(i + 1));
        guest.put_desc(5, 0, 1, UKRUN_VRING_DESC_F_WRITE);
        check_pop_rejects(guest, 0, "chain at descriptor 0 is longer than 4 GiB in total");
    }
    SECTION("readable and writable buffers together")
    {
        for (uint16_t i = 0; i < 4; ++i)
            guest.put_desc(i, 0, static_cast<uint32_t>(gib - 1), UKRUN_VRING_DESC_F_NEXT, static_cast<uint16_t>(i + 1));
        guest.put_desc(4, 0, 8, UKRUN_VRING_DESC_F_WRITE);
        check_pop_rejects(guest, 0, "longer than 4 GiB in total");
    }
    SECTION("exactly 4 GiB - 1 is still fine")
    {
        for (uint16_t i = 0; i < 3; ++i)
            guest.put_desc(i, 0, static_cast<uint32_t>(gib), UKRUN_VRING_DESC_F_NEXT, static_cast<uint16_t>(i + 1));
        guest.put_desc(3, 0, static_cast<uint32_t>(gib - 1), UKRUN_VRING_DESC_F_WRITE);
        Virtqueue queue = make_queue(guest);
        guest.publish_raw(0);
        auto chain = queue.pop();
        REQUIRE(chain);
        CHECK(chain->readable_bytes + chain->writable_bytes == UINT32_MAX);
    }
}

TEST_CASE("a device-readable descriptor may not follow a device-writable one", "[virtqueue]")
{
    FakeGuest guest(16);
    const uint64_t buf = guest.alloc(64);
    guest.put_desc(0, buf, 16, UKRUN_VRING_DESC_F_NEXT, 1);
    guest.put_desc(1, buf + 16, 16, UKRUN_VRING_DESC_F_NEXT | UKRUN_VRING_DESC_F_WRITE, 7);
    guest.put_desc(7, buf + 32, 16, 0);
    check_pop_rejects(guest, 0, "descriptor 7 is device-readable after a device-writable one");
}

TEST_CASE("indirect and unknown descriptor flags are rejected", "[virtqueue]")
{
    FakeGuest guest(16);
    const uint64_t buf = guest.alloc(64);
    SECTION("indirect")
    {
        guest.put_desc(0, buf, 16, 4);
        check_pop_rejects(guest, 0, "descriptor 0 has unsupported flags 0x4");
    }
    SECTION("indirect further down a chain")
    {
        guest.put_desc(0, buf, 16, UKRUN_VRING_DESC_F_NEXT, 9);
        guest.put_desc(9, buf, 16, UKRUN_VRING_DESC_F_WRITE | 4);
        check_pop_rejects(guest, 0, "descriptor 9 has unsupported flags 0x6");
    }
    SECTION("an unassigned bit")
    {
        guest.put_desc(0, buf, 16, 0x8000);
        check_pop_rejects(guest, 0, "descriptor 0 has unsupported flags 0x8000");
    }
}

TEST_CASE("the monitor toggles notification suppression in the used ring's flags", "[virtqueue]")
{
    FakeGuest guest(16);
    Vring driver = guest.driver();
    Virtqueue queue = make_queue(guest);
    CHECK(driver.needs_notify());
    queue.suppress_notifications(true);
    CHECK((guest.used_flags() & UKRUN_VRING_USED_F_NO_NOTIFY) != 0);
    CHECK_FALSE(driver.needs_notify());
    queue.suppress_notifications(true); // idempotent
    CHECK(guest.used_flags() == UKRUN_VRING_USED_F_NO_NOTIFY);
    queue.suppress_notifications(false);
    CHECK(guest.used_flags() == 0);
    CHECK(driver.needs_notify());
    // Other bits of the word are left alone.
    guest.used_flags() = 0x8000;
    queue.suppress_notifications(true);
    CHECK(guest.used_flags() == 0x8001);
    queue.suppress_notifications(false);
    CHECK(guest.used_flags() == 0x8000);
}

TEST_CASE("has_available follows the available index, not the monitor's progress alone", "[virtqueue]")
{
    FakeGuest guest(4);
    Vring driver = guest.driver();
    Virtqueue queue = make_queue(guest);
    const uint64_t buf = guest.alloc(16);
    const VringBuffer one[] = {{buf, 16, false}};
    CHECK_FALSE(queue.has_available());
    const uint16_t h = driver.add(one, 1);
    driver.publish(h);
    CHECK(queue.has_available());
    CHECK(queue.has_available()); // looking does not consume
    REQUIRE(queue.pop());
    CHECK_FALSE(queue.has_available());
    queue.push_used(h, 0);
    CHECK_FALSE(queue.has_available());
}
