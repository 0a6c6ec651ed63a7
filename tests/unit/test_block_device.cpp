// Tests of block request parsing and of the block device over a real image file, driven through its queue.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "block_device.hpp"
#include "errors.hpp"
#include "fake_guest.hpp"
#include "temp_dir.hpp"

using namespace ukrun;
using ukrun::test::FakeGuest;
using ukrun::test::TempDir;

namespace {

// ---- Request parsing ----------------------------------------------------------------

constexpr BlockGeometry kGeometry{2048, 512, false}; // 1 MiB

DescriptorChain chain_of(std::vector<GuestBuffer> readable, std::vector<GuestBuffer> writable)
{
    DescriptorChain chain;
    for (const auto& b : readable)
        chain.readable_bytes += b.len;
    for (const auto& b : writable)
        chain.writable_bytes += b.len;
    chain.readable = std::move(readable);
    chain.writable = std::move(writable);
    return chain;
}

GuestBuffer buffer(uint64_t addr, uint32_t len)
{
    return {{addr}, len};
}

// A request header placed in guest memory.
uint64_t put_header(FakeGuest& guest, uint32_t type, uint64_t sector, uint32_t reserved = 0, uint32_t extra = 0)
{
    const uint64_t addr = guest.alloc(sizeof(ukrun_block_request_header) + extra);
    *guest.at<ukrun_block_request_header>(addr) = {type, reserved, sector};
    return addr;
}

BlockRefusal refusal_of(const std::variant<BlockRequest, BlockRefusal>& parsed)
{
    REQUIRE(std::holds_alternative<BlockRefusal>(parsed));
    return std::get<BlockRefusal>(parsed);
}

BlockRequest request_of(const std::variant<BlockRequest, BlockRefusal>& parsed)
{
    if (const auto* refusal = std::get_if<BlockRefusal>(&parsed))
        FAIL("refused: " << refusal->reason);
    return std::get<BlockRequest>(parsed);
}

// A read of `bytes` at `sector`: header, one data buffer, a separate status byte.
struct SimpleRead {
    DescriptorChain chain;
    uint64_t data = 0, status = 0;
};
SimpleRead simple_read(FakeGuest& guest, uint64_t sector, uint32_t bytes)
{
    SimpleRead r;
    const uint64_t header = put_header(guest, UKRUN_BLOCK_T_READ, sector);
    r.data = guest.alloc(bytes);
    r.status = guest.alloc(1);
    r.chain = chain_of({buffer(header, 16)}, {buffer(r.data, bytes), buffer(r.status, 1)});
    return r;
}

DescriptorChain simple_write(FakeGuest& guest, uint64_t sector, uint32_t bytes)
{
    const uint64_t header = put_header(guest, UKRUN_BLOCK_T_WRITE, sector);
    return chain_of({buffer(header, 16), buffer(guest.alloc(bytes), bytes)}, {buffer(guest.alloc(1), 1)});
}

// ---- Device over an image ------------------------------------------------------------

uint8_t image_byte(uint64_t offset)
{
    return static_cast<uint8_t>((offset * 131 + offset / 512) & 0xff);
}

// An image of `bytes` whose every byte is image_byte(offset).
std::string make_image(const TempDir& dir, const std::string& name, uint64_t bytes)
{
    const std::string path = dir.file(name);
    std::vector<uint8_t> data(bytes);
    for (uint64_t i = 0; i < bytes; ++i)
        data[i] = image_byte(i);
    const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    ::close(fd);
    return path;
}

std::vector<uint8_t> file_bytes(const std::string& path, uint64_t offset, uint64_t bytes)
{
    std::vector<uint8_t> out(bytes);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::pread(fd, out.data(), bytes, static_cast<off_t>(offset)) == static_cast<ssize_t>(bytes));
    ::close(fd);
    return out;
}

std::string device_error(const BlockBacking& backing)
{
    try {
        BlockDevice device("disk", backing);
    } catch (const DeviceError& e) {
        CHECK(e.code() == ExitCode::BadDevice);
        return e.what();
    }
    FAIL("the backing " << backing.path << " was accepted");
    return {};
}

// A block device on a temp image, its request queue in fake guest memory, and the
// bindings' ring driver playing the guest.
class BlockRig {
public:
    explicit BlockRig(uint64_t image_bytes = 1u << 20, bool readonly = false, uint32_t sector_size = 512)
        : path(make_image(dir, "disk.img", image_bytes)),
          device("disk", BlockBacking{path, readonly, sector_size}),
          guest(kBlockQueueSize, 32u << 20)
    {
        std::vector<Virtqueue> queues;
        queues.emplace_back(guest.memory, guest.geometry, "disk queue 0");
        device.attach(guest.memory, std::move(queues));
        driver = guest.driver();
        REQUIRE(driver.valid());
    }

    struct Posted {
        uint16_t head = Vring::no_head;
        uint64_t status = 0;
    };

    // Posts header, data buffers (split as given) and a status byte as one chain; the data
    // buffers are readable for a write and writable otherwise.
    Posted post(uint32_t type, uint64_t sector, const std::vector<uint64_t>& data, const std::vector<uint32_t>& lens,
                bool with_status = true)
    {
        std::vector<VringBuffer> chain;
        const uint64_t header = put_header(guest, type, sector);
        chain.push_back({header, 16, false});
        const bool writable = type != UKRUN_BLOCK_T_WRITE;
        for (std::size_t i = 0; i < data.size(); ++i)
            chain.push_back({data[i], lens[i], writable});
        Posted posted;
        if (with_status) {
            posted.status = guest.alloc(1);
            *guest.bytes(posted.status) = 0xee; // neither OK nor an error: "not written"
            chain.push_back({posted.status, 1, true});
        }
        posted.head = driver.add(chain.data(), chain.size());
        REQUIRE(posted.head != Vring::no_head);
        driver.publish(posted.head);
        return posted;
    }

    // One buffer of `bytes` in guest memory, filled with `fill`.
    uint64_t data(uint32_t bytes, uint8_t fill = 0)
    {
        const uint64_t addr = guest.alloc(bytes);
        std::memset(guest.bytes(addr), fill, bytes);
        return addr;
    }

    // Everything the device completed since the last call: head -> used length.
    std::map<uint16_t, uint32_t> harvest()
    {
        std::map<uint16_t, uint32_t> done;
        VringUsed used{};
        VringHarvest result;
        while ((result = driver.harvest(used)) == VringHarvest::completed) {
            CHECK(done.count(used.head) == 0);
            done[used.head] = used.len;
        }
        CHECK(result == VringHarvest::empty);
        return done;
    }

    uint8_t status(const Posted& p) const { return *guest.bytes(p.status); }

    TempDir dir;
    std::string path;
    BlockDevice device;
    FakeGuest guest;
    Vring driver;
};

} // namespace

// ---- parse_block_request --------------------------------------------------------------

TEST_CASE("block parse: well-formed reads, writes and flushes become typed requests", "[block]")
{
    FakeGuest guest(16, 4u << 20);
    SECTION("a read with a separate status byte")
    {
        const SimpleRead r = simple_read(guest, 10, 4096);
        const BlockRequest req = request_of(parse_block_request(r.chain, guest.memory, kGeometry));
        CHECK(req.type == UKRUN_BLOCK_T_READ);
        CHECK(req.offset == 10 * 512);
        CHECK(req.data_bytes == 4096);
        REQUIRE(req.data.size() == 1);
        CHECK(req.data[0].addr.value == r.data);
        CHECK(req.data[0].len == 4096);
        CHECK(req.status.addr.value == r.status);
    }
    SECTION("a read whose status byte is the last byte of its data buffer")
    {
        const uint64_t header = put_header(guest, UKRUN_BLOCK_T_READ, 0);
        const uint64_t data = guest.alloc(1025);
        const auto chain = chain_of({buffer(header, 16)}, {buffer(data, 1025)});
        const BlockRequest req = request_of(parse_block_request(chain, guest.memory, kGeometry));
        CHECK(req.data_bytes == 1024);
        REQUIRE(req.data.size() == 1);
        CHECK(req.data[0].len == 1024);
        CHECK(req.status.addr.value == data + 1024);
    }
    SECTION("a write whose data shares the header's buffer")
    {
        const uint64_t header = put_header(guest, UKRUN_BLOCK_T_WRITE, 7, 0, 512);
        const auto chain = chain_of({buffer(header, 16 + 512)}, {buffer(guest.alloc(1), 1)});
        const BlockRequest req = request_of(parse_block_request(chain, guest.memory, kGeometry));
        CHECK(req.type == UKRUN_BLOCK_T_WRITE);
        CHECK(req.offset == 7 * 512);
        REQUIRE(req.data.size() == 1);
        CHECK(req.data[0].addr.value == header + 16);
        CHECK(req.data[0].len == 512);
    }
    SECTION("a header split across two buffers, data scattered over three")
    {
        const uint64_t header = put_header(guest, UKRUN_BLOCK_T_WRITE, 3, 0, 100);
        const uint64_t d2 = guest.alloc(1000), d3 = guest.alloc(436);
        const auto chain = chain_of({buffer(header, 8), buffer(header + 8, 8 + 100), buffer(d2, 1000), buffer(d3, 436)},
                                    {buffer(guest.alloc(1), 1)});
        const BlockRequest req = request_of(parse_block_request(chain, guest.memory, kGeometry));
        CHECK(req.offset == 3 * 512);
        CHECK(req.data_bytes == 1536);
        REQUIRE(req.data.size() == 3);
        CHECK(req.data[0].addr.value == header + 16);
        CHECK(req.data[0].len == 100);
        CHECK(req.data[1].addr.value == d2);
        CHECK(req.data[2].len == 436);
    }
    SECTION("a flush")
    {
        const uint64_t header = put_header(guest, UKRUN_BLOCK_T_FLUSH, 0);
        const uint64_t status = guest.alloc(1);
        const auto chain = chain_of({buffer(header, 16)}, {buffer(status, 1)});
        const BlockRequest req = request_of(parse_block_request(chain, guest.memory, kGeometry));
        CHECK(req.type == UKRUN_BLOCK_T_FLUSH);
        CHECK(req.data.empty());
        CHECK(req.status.addr.value == status);
    }
    SECTION("the last sectors of the device")
    {
        const SimpleRead r = simple_read(guest, 2047, 512);
        CHECK(request_of(parse_block_request(r.chain, guest.memory, kGeometry)).offset == 2047 * 512);
        const SimpleRead whole = simple_read(guest, 0, 1u << 20);
        CHECK(request_of(parse_block_request(whole.chain, guest.memory, kGeometry)).data_bytes == 1u << 20);
    }
}

TEST_CASE("block parse: a chain without a status byte is refused with nowhere to report", "[block]")
{
    FakeGuest guest;
    const uint64_t header = put_header(guest, UKRUN_BLOCK_T_READ, 0);
    SECTION("no writable buffer")
    {
        const BlockRefusal r = refusal_of(
            parse_block_request(chain_of({buffer(header, 16)}, {}), guest.memory, kGeometry));
        CHECK(r.reason == "no status byte");
        CHECK_FALSE(r.status_byte.has_value());
    }
    SECTION("only zero-length writable buffers")
    {
        const BlockRefusal r = refusal_of(parse_block_request(
            chain_of({buffer(header, 16)}, {buffer(guest.alloc(8), 0)}), guest.memory, kGeometry));
        CHECK(r.reason == "no status byte");
        CHECK_FALSE(r.status_byte.has_value());
    }
}

TEST_CASE("block parse: malformed headers are refused with an I/O error", "[block]")
{
    FakeGuest guest;
    const uint64_t status = guest.alloc(1);
    SECTION("a header shorter than 16 bytes")
    {
        const uint64_t header = put_header(guest, UKRUN_BLOCK_T_FLUSH, 0);
        const BlockRefusal r = refusal_of(
            parse_block_request(chain_of({buffer(header, 15)}, {buffer(status, 1)}), guest.memory, kGeometry));
        CHECK_THAT(r.reason, Catch::Contains("request header too short"));
        CHECK(r.status == UKRUN_BLOCK_S_IOERR);
        REQUIRE(r.status_byte.has_value());
        CHECK(r.status_byte->addr.value == status);
    }
    SECTION("no readable buffer at all")
    {
        const BlockRefusal r =
            refusal_of(parse_block_request(chain_of({}, {buffer(status, 1)}), guest.memory, kGeometry));
        CHECK_THAT(r.reason, Catch::Contains("request header too short"));
    }
    SECTION("a nonzero reserved field")
    {
        const uint64_t header = put_header(guest, UKRUN_BLOCK_T_READ, 0, 1);
        const BlockRefusal r = refusal_of(parse_block_request(
            chain_of({buffer(header, 16)}, {buffer(guest.alloc(512), 512), buffer(status, 1)}), guest.memory,
            kGeometry));
        CHECK_THAT(r.reason, Catch::Contains("reserved header field is not zero"));
        CHECK(r.status == UKRUN_BLOCK_S_IOERR);
    }
}

TEST_CASE("block parse: requests the device does not allow are refused", "[block]")
{
    FakeGuest guest;
    SECTION("a read that carries device-readable data")
    {
        const uint64_t header = put_header(guest, UKRUN_BLOCK_T_READ, 0, 0, 512);
        const auto chain = chain_of({buffer(header, 16 + 512)}, {buffer(guest.alloc(513), 513)});
        CHECK_THAT(refusal_of(parse_block_request(chain, guest.memory, kGeometry)).reason,
                   Catch::Contains("read request carries device-readable data"));
    }
    SECTION("a write to a read-only device")
    {
        const auto chain = simple_write(guest, 0, 512);
        BlockGeometry ro = kGeometry;
        ro.readonly = true;
        const BlockRefusal r = refusal_of(parse_block_request(chain, guest.memory, ro));
        CHECK_THAT(r.reason, Catch::Contains("write to a read-only device"));
        CHECK(r.status == UKRUN_BLOCK_S_IOERR);
        // Reads from it are fine.
        const SimpleRead read = simple_read(guest, 0, 512);
        request_of(parse_block_request(read.chain, guest.memory, ro));
    }
    SECTION("a write with writable data besides the status byte")
    {
        const uint64_t header = put_header(guest, UKRUN_BLOCK_T_WRITE, 0);
        const auto chain = chain_of({buffer(header, 16), buffer(guest.alloc(512), 512)}, {buffer(guest.alloc(2), 2)});
        CHECK_THAT(refusal_of(parse_block_request(chain, guest.memory, kGeometry)).reason,
                   Catch::Contains("write request has more than a status byte writable"));
    }
    SECTION("a flush that carries data")
    {
        const uint64_t header = put_header(guest, UKRUN_BLOCK_T_FLUSH, 0, 0, 512);
        const auto readable = chain_of({buffer(header, 16 + 512)}, {buffer(guest.alloc(1), 1)});
        CHECK_THAT(refusal_of(parse_block_request(readable, guest.memory, kGeometry)).reason,
                   Catch::Contains("flush request carries data"));
        const auto writable = chain_of({buffer(header, 16)}, {buffer(guest.alloc(513), 513)});
        CHECK_THAT(refusal_of(parse_block_request(writable, guest.memory, kGeometry)).reason,
                   Catch::Contains("flush request carries data"));
    }
    SECTION("an unknown request type is UNSUPPORTED, not an I/O error")
    {
        for (const uint32_t type : {2u, 3u, 8u, 11u, 0xffffffffu}) {
            const uint64_t header = put_header(guest, type, 0);
            const uint64_t status = guest.alloc(1);
            const BlockRefusal r = refusal_of(
                parse_block_request(chain_of({buffer(header, 16)}, {buffer(status, 1)}), guest.memory, kGeometry));
            CHECK(r.status == UKRUN_BLOCK_S_UNSUPPORTED);
            CHECK_THAT(r.reason, Catch::Contains(fmt::format("unknown request type {}", type)));
            REQUIRE(r.status_byte.has_value());
            CHECK(r.status_byte->addr.value == status);
        }
    }
}

TEST_CASE("block parse: data lengths must be positive whole sectors within the limit", "[block]")
{
    FakeGuest guest(16, 4u << 20);
    SECTION("not a multiple of the sector size")
    {
        const SimpleRead r = simple_read(guest, 0, 100);
        CHECK_THAT(refusal_of(parse_block_request(r.chain, guest.memory, kGeometry)).reason,
                   Catch::Contains("data length 100 is not a positive multiple of the sector size 512"));
        const auto w = simple_write(guest, 0, 513);
        CHECK_THAT(refusal_of(parse_block_request(w, guest.memory, kGeometry)).reason,
                   Catch::Contains("data length 513 is not a positive multiple"));
        BlockGeometry big = {256, 4096, false};
        const SimpleRead r4k = simple_read(guest, 0, 512);
        CHECK_THAT(refusal_of(parse_block_request(r4k.chain, guest.memory, big)).reason,
                   Catch::Contains("data length 512 is not a positive multiple of the sector size 4096"));
    }
    SECTION("zero-length reads and writes")
    {
        const uint64_t rh = put_header(guest, UKRUN_BLOCK_T_READ, 0);
        const auto read = chain_of({buffer(rh, 16)}, {buffer(guest.alloc(1), 1)});
        CHECK_THAT(refusal_of(parse_block_request(read, guest.memory, kGeometry)).reason,
                   Catch::Contains("data length 0 is not a positive multiple"));
        const uint64_t wh = put_header(guest, UKRUN_BLOCK_T_WRITE, 0);
        const auto write = chain_of({buffer(wh, 16)}, {buffer(guest.alloc(1), 1)});
        CHECK_THAT(refusal_of(parse_block_request(write, guest.memory, kGeometry)).reason,
                   Catch::Contains("data length 0 is not a positive multiple"));
    }
    SECTION("larger than the device's largest request")
    {
        const BlockGeometry huge{1u << 20, 512, false};
        const SimpleRead at_limit = simple_read(guest, 0, kBlockMaxRequest);
        request_of(parse_block_request(at_limit.chain, guest.memory, huge));
        const SimpleRead over = simple_read(guest, 0, kBlockMaxRequest + 512);
        CHECK_THAT(refusal_of(parse_block_request(over.chain, guest.memory, huge)).reason,
                   Catch::Contains(fmt::format("request of {} bytes exceeds the limit {}", kBlockMaxRequest + 512,
                                               kBlockMaxRequest)));
    }
}

TEST_CASE("block parse: sectors beyond the device are refused, overflow included", "[block]")
{
    FakeGuest guest(16, 4u << 20);
    const auto reason = [&](uint64_t sector, uint32_t bytes) {
        const SimpleRead r = simple_read(guest, sector, bytes);
        return refusal_of(parse_block_request(r.chain, guest.memory, kGeometry)).reason;
    };
    CHECK_THAT(reason(2048, 512), Catch::Contains("sectors 2048+1 lie beyond the device's 2048 sectors"));
    CHECK_THAT(reason(2047, 1024), Catch::Contains("sectors 2047+2 lie beyond"));
    CHECK_THAT(reason(1, 1u << 20), Catch::Contains("sectors 1+2048 lie beyond"));
    // sector + count wraps past zero: must not look like a small, valid range.
    CHECK_THAT(reason(UINT64_MAX, 512), Catch::Contains("lie beyond"));
    CHECK_THAT(reason(UINT64_MAX - 1, 1024), Catch::Contains("lie beyond"));
    CHECK_THAT(reason(UINT64_MAX - 7, 8 * 512), Catch::Contains("lie beyond"));
    // sector * sector_size wraps to a small offset.
    CHECK_THAT(reason(1ull << 55, 512), Catch::Contains("lie beyond"));
    const auto write = simple_write(guest, UINT64_MAX, 512);
    CHECK_THAT(refusal_of(parse_block_request(write, guest.memory, kGeometry)).reason, Catch::Contains("lie beyond"));
}

// ---- BlockDevice ----------------------------------------------------------------------

TEST_CASE("block device: describes its geometry in the boot info entry", "[block]")
{
    BlockRig rig(3u << 20);
    ukrun_device_info info{};
    rig.device.describe(info);
    CHECK(info.capacity == 6144);
    CHECK(info.sector_size == 512);
    CHECK(info.max_request == kBlockMaxRequest);
    CHECK(info.flags == 0);
    CHECK(rig.device.type() == UKRUN_DEVICE_BLOCK);
    CHECK(rig.device.queue_sizes() == std::vector<uint16_t>{kBlockQueueSize});

    BlockRig ro(1u << 20, true, 4096);
    ukrun_device_info ro_info{};
    ro.device.describe(ro_info);
    CHECK(ro_info.capacity == 256);
    CHECK(ro_info.sector_size == 4096);
    CHECK(ro_info.flags == UKRUN_DEVICE_F_READONLY);
}

TEST_CASE("block device: a write reaches the file and reads back through the queue", "[block]")
{
    BlockRig rig;
    const uint64_t out = rig.data(4096);
    for (uint32_t i = 0; i < 4096; ++i)
        rig.guest.bytes(out)[i] = static_cast<uint8_t>(i * 7 + 1);
    const auto w = rig.post(UKRUN_BLOCK_T_WRITE, 100, {out}, {4096});
    rig.device.notify(0);
    auto done = rig.harvest();
    REQUIRE(done.size() == 1);
    CHECK(done[w.head] == 1); // only the status byte was written
    CHECK(rig.status(w) == UKRUN_BLOCK_S_OK);

    // The bytes are in the file, and the neighbours are untouched.
    const auto on_disk = file_bytes(rig.path, 100 * 512 - 1, 4096 + 2);
    CHECK(on_disk.front() == image_byte(100 * 512 - 1));
    CHECK(on_disk.back() == image_byte(100 * 512 + 4096));
    CHECK(std::memcmp(on_disk.data() + 1, rig.guest.bytes(out), 4096) == 0);

    const uint64_t in = rig.data(4096, 0);
    const auto r = rig.post(UKRUN_BLOCK_T_READ, 100, {in}, {4096});
    rig.device.notify(0);
    done = rig.harvest();
    CHECK(done[r.head] == 4097); // data and status
    CHECK(rig.status(r) == UKRUN_BLOCK_S_OK);
    CHECK(std::memcmp(rig.guest.bytes(in), rig.guest.bytes(out), 4096) == 0);

    // Reading the untouched image returns what the file holds.
    const uint64_t orig = rig.data(512);
    const auto r2 = rig.post(UKRUN_BLOCK_T_READ, 2000, {orig}, {512});
    rig.device.notify(0);
    rig.harvest();
    CHECK(rig.status(r2) == UKRUN_BLOCK_S_OK);
    for (uint32_t i = 0; i < 512; ++i)
        REQUIRE(rig.guest.bytes(orig)[i] == image_byte(2000 * 512 + i));
}

TEST_CASE("block device: scatter-gather requests over many descriptors", "[block]")
{
    BlockRig rig;
    // A write from five buffers of odd sizes adding up to 8 sectors.
    const std::vector<uint32_t> lens = {1, 511, 1000, 2000, 584};
    std::vector<uint64_t> bufs;
    uint32_t k = 0;
    for (const uint32_t len : lens) {
        bufs.push_back(rig.data(len));
        for (uint32_t i = 0; i < len; ++i)
            rig.guest.bytes(bufs.back())[i] = static_cast<uint8_t>(0x5a ^ (k++ * 13));
    }
    const auto w = rig.post(UKRUN_BLOCK_T_WRITE, 8, bufs, lens);
    rig.device.notify(0);
    rig.harvest();
    REQUIRE(rig.status(w) == UKRUN_BLOCK_S_OK);
    const auto on_disk = file_bytes(rig.path, 8 * 512, 4096);
    for (uint32_t i = 0; i < 4096; ++i)
        REQUIRE(on_disk[i] == static_cast<uint8_t>(0x5a ^ (i * 13)));

    // Read it back split differently: 3 + 4093 bytes.
    const uint64_t a = rig.data(3), b = rig.data(4093);
    const auto r = rig.post(UKRUN_BLOCK_T_READ, 8, {a, b}, {3, 4093});
    rig.device.notify(0);
    auto done = rig.harvest();
    CHECK(done[r.head] == 4097);
    REQUIRE(rig.status(r) == UKRUN_BLOCK_S_OK);
    for (uint32_t i = 0; i < 3; ++i)
        CHECK(rig.guest.bytes(a)[i] == on_disk[i]);
    CHECK(std::memcmp(rig.guest.bytes(b), on_disk.data() + 3, 4093) == 0);
}

TEST_CASE("block device: flush succeeds and is counted", "[block]")
{
    BlockRig rig;
    const auto f = rig.post(UKRUN_BLOCK_T_FLUSH, 0, {}, {});
    rig.device.notify(0);
    auto done = rig.harvest();
    CHECK(done[f.head] == 1);
    CHECK(rig.status(f) == UKRUN_BLOCK_S_OK);
    CHECK_THAT(rig.device.stats(), Catch::Contains("flushes=1") && Catch::Contains("errors=0"));
}

TEST_CASE("block device: one notify drains a whole batch", "[block]")
{
    BlockRig rig;
    // Three descriptors per request: as many as the queue holds at once.
    const unsigned batch = kBlockQueueSize / 3;
    std::vector<BlockRig::Posted> posted;
    std::vector<uint64_t> bufs;
    for (unsigned i = 0; i < batch; ++i) {
        bufs.push_back(rig.data(4096, static_cast<uint8_t>(i + 1)));
        posted.push_back(rig.post(UKRUN_BLOCK_T_WRITE, 8ull * ((i * 17) % batch), {bufs.back()}, {4096}));
    }
    CHECK(rig.driver.free_count() < 3);
    rig.device.notify(0);
    auto done = rig.harvest();
    CHECK(done.size() == batch);
    for (const auto& p : posted)
        CHECK(rig.status(p) == UKRUN_BLOCK_S_OK);
    CHECK(rig.driver.free_count() == kBlockQueueSize);
    // Notifications are on again once the device is idle.
    CHECK(rig.guest.used_flags() == 0);
    CHECK(rig.driver.needs_notify());

    // Read every block back in one more batch.
    posted.clear();
    std::vector<uint64_t> ins;
    for (unsigned i = 0; i < batch; ++i) {
        ins.push_back(rig.data(4096, 0));
        posted.push_back(rig.post(UKRUN_BLOCK_T_READ, 8ull * ((i * 17) % batch), {ins.back()}, {4096}));
    }
    rig.device.notify(0);
    done = rig.harvest();
    CHECK(done.size() == batch);
    for (unsigned i = 0; i < batch; ++i) {
        CHECK(rig.status(posted[i]) == UKRUN_BLOCK_S_OK);
        CHECK(done[posted[i].head] == 4097);
        REQUIRE(std::memcmp(rig.guest.bytes(ins[i]), rig.guest.bytes(bufs[i]), 4096) == 0);
    }
    CHECK_THAT(rig.device.stats(),
               Catch::Equals(fmt::format("disk: notifications=2 requests={} reads={} writes={} flushes=0 errors=0 "
                                         "read-bytes={} written-bytes={}",
                                         2 * batch, batch, batch, 4096 * batch, 4096 * batch)));
}

TEST_CASE("block device: a refused request mid-batch is completed with an error, the rest succeed", "[block]")
{
    BlockRig rig;
    const uint64_t a = rig.data(512, 0xaa), b = rig.data(512, 0xbb), c = rig.data(512, 0);
    const auto w1 = rig.post(UKRUN_BLOCK_T_WRITE, 0, {a}, {512});
    const auto bad = rig.post(UKRUN_BLOCK_T_READ, 4096, {c}, {512}); // beyond the 2048 sectors
    const auto odd = rig.post(UKRUN_BLOCK_T_WRITE, 1, {b}, {100});   // not whole sectors
    const auto unknown = rig.post(9, 0, {}, {});
    const auto w2 = rig.post(UKRUN_BLOCK_T_WRITE, 1, {b}, {512});
    const auto f = rig.post(UKRUN_BLOCK_T_FLUSH, 0, {}, {});
    rig.device.notify(0);
    auto done = rig.harvest();
    REQUIRE(done.size() == 6);
    CHECK(rig.status(w1) == UKRUN_BLOCK_S_OK);
    CHECK(rig.status(bad) == UKRUN_BLOCK_S_IOERR);
    CHECK(done[bad.head] == 1); // no data was transferred
    CHECK(rig.status(odd) == UKRUN_BLOCK_S_IOERR);
    CHECK(rig.status(unknown) == UKRUN_BLOCK_S_UNSUPPORTED);
    CHECK(rig.status(w2) == UKRUN_BLOCK_S_OK);
    CHECK(rig.status(f) == UKRUN_BLOCK_S_OK);
    const auto disk = file_bytes(rig.path, 0, 1024);
    CHECK(disk[0] == 0xaa);
    CHECK(disk[511] == 0xaa);
    CHECK(disk[512] == 0xbb);
    CHECK(disk[1023] == 0xbb);
    CHECK_THAT(rig.device.stats(), Catch::Equals("disk: notifications=1 requests=6 reads=0 writes=2 flushes=1 "
                                                 "errors=3 read-bytes=0 written-bytes=1024"));
}

TEST_CASE("block device: a chain without a status byte is still completed, with length 0", "[block]")
{
    BlockRig rig;
    const uint64_t data = rig.data(512, 0x11);
    const auto lost = rig.post(UKRUN_BLOCK_T_WRITE, 0, {data}, {512}, false);
    const auto next = rig.post(UKRUN_BLOCK_T_FLUSH, 0, {}, {});
    rig.device.notify(0);
    auto done = rig.harvest();
    REQUIRE(done.count(lost.head) == 1);
    CHECK(done[lost.head] == 0);
    CHECK(rig.status(next) == UKRUN_BLOCK_S_OK);
    // Nothing was written for it.
    CHECK(file_bytes(rig.path, 0, 1)[0] == image_byte(0));
    CHECK_THAT(rig.device.stats(), Catch::Contains("errors=1"));
}

TEST_CASE("block device: a read-only device refuses writes and leaves the image alone", "[block]")
{
    BlockRig rig(1u << 20, true);
    const uint64_t data = rig.data(512, 0x77);
    const auto w = rig.post(UKRUN_BLOCK_T_WRITE, 0, {data}, {512});
    const uint64_t in = rig.data(512, 0);
    const auto r = rig.post(UKRUN_BLOCK_T_READ, 0, {in}, {512});
    rig.device.notify(0);
    rig.harvest();
    CHECK(rig.status(w) == UKRUN_BLOCK_S_IOERR);
    CHECK(rig.status(r) == UKRUN_BLOCK_S_OK);
    CHECK(rig.guest.bytes(in)[5] == image_byte(5));
    CHECK(file_bytes(rig.path, 0, 1)[0] == image_byte(0));
}

TEST_CASE("block device: a backing that shrank fails reads with an I/O error", "[block]")
{
    BlockRig rig;
    REQUIRE(::truncate(rig.path.c_str(), 512 * 1024) == 0);
    const uint64_t in = rig.data(4096);
    const auto beyond = rig.post(UKRUN_BLOCK_T_READ, 1500, {in}, {4096});
    const auto inside = rig.post(UKRUN_BLOCK_T_READ, 10, {in}, {4096});
    rig.device.notify(0);
    auto done = rig.harvest();
    CHECK(rig.status(beyond) == UKRUN_BLOCK_S_IOERR);
    CHECK(done[beyond.head] == 1);
    CHECK(rig.status(inside) == UKRUN_BLOCK_S_OK);
    CHECK_THAT(rig.device.stats(), Catch::Contains("reads=1") && Catch::Contains("errors=1"));
}

TEST_CASE("block device: a corrupt ring or a bad queue index is a guest violation", "[block]")
{
    BlockRig rig;
    CHECK_THROWS_WITH(rig.device.notify(1),
                      Catch::Contains("notify for block device 'disk' queue 1: it has one queue"));
    rig.guest.publish_raw(kBlockQueueSize); // a head outside the table
    CHECK_THROWS_WITH(rig.device.notify(0),
                      Catch::Contains("disk queue 0: available ring names descriptor 128 (queue size 128)"));
}

TEST_CASE("block device: reads that keep re-posting chains into their own ring end the VM", "[block]")
{
    // Each request reads two sectors: the first over the available ring (index one ahead,
    // every slot naming descriptor 0), the second over the request's own header (pointing
    // at the next pair). Prepared on the disk, such a chain re-posts itself from inside one
    // notify; laid out over 64 MiB it would wrap the index and never stop.
    BlockRig rig;
    FakeGuest& g = rig.guest;
    constexpr unsigned rounds = 2 * kBlockQueueSize + 10;
    const uint64_t header = g.alloc(512), status = g.alloc(1);
    std::vector<uint8_t> disk(rounds * 1024, 0);
    for (unsigned k = 0; k < rounds; ++k) {
        uint8_t* ring = disk.data() + k * 1024;
        const auto next = static_cast<uint16_t>(k + 1 < rounds ? k + 2 : k + 1); // the last one stops
        std::memcpy(ring + 2, &next, 2);
        const ukrun_block_request_header h{UKRUN_BLOCK_T_READ, 0, 2ull * (k + 1)};
        std::memcpy(ring + 512, &h, sizeof(h));
    }
    const int fd = ::open(rig.path.c_str(), O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, disk.data(), disk.size(), 0) == static_cast<ssize_t>(disk.size()));
    ::close(fd);

    *g.at<ukrun_block_request_header>(header) = {UKRUN_BLOCK_T_READ, 0, 0};
    g.put_desc(0, header, 16, UKRUN_VRING_DESC_F_NEXT, 1);
    g.put_desc(1, g.geometry.avail.value, 512, UKRUN_VRING_DESC_F_WRITE | UKRUN_VRING_DESC_F_NEXT, 2);
    g.put_desc(2, header, 512, UKRUN_VRING_DESC_F_WRITE | UKRUN_VRING_DESC_F_NEXT, 3);
    g.put_desc(3, status, 1, UKRUN_VRING_DESC_F_WRITE);
    g.publish_raw(0);
    CHECK_THROWS_WITH(rig.device.notify(0), Catch::Contains("disk queue 0: more than 128 chains in one notify"));
}

TEST_CASE("block device: unusable backings are refused with a message naming the device", "[block]")
{
    TempDir dir;
    const std::string prefix = "block device 'disk' (";
    SECTION("a missing file")
    {
        const std::string path = dir.file("missing.img");
        CHECK_THAT(device_error({path, false, 512}),
                   Catch::StartsWith(prefix + path + "): cannot open: No such file or directory"));
        CHECK_THAT(device_error({path, true, 512}), Catch::Contains("cannot open"));
    }
    SECTION("a path through a regular file")
    {
        const std::string file = make_image(dir, "plain", 512);
        CHECK_THAT(device_error({file + "/disk.img", false, 512}),
                   Catch::Contains("cannot open: Not a directory"));
    }
    SECTION("a directory")
    {
        std::filesystem::create_directory(dir.file("adir"));
        CHECK_THAT(device_error({dir.file("adir"), false, 512}), Catch::Contains("cannot open: Is a directory"));
        CHECK_THAT(device_error({dir.file("adir"), true, 512}),
                   Catch::Contains("not a regular file or block device"));
    }
    SECTION("a character device")
    {
        CHECK_THAT(device_error({"/dev/null", false, 512}), Catch::Contains("not a regular file or block device"));
    }
    SECTION("an empty image")
    {
        const std::string path = make_image(dir, "empty.img", 0);
        CHECK_THAT(device_error({path, false, 512}), Catch::Equals(prefix + path + "): the image is empty"));
    }
    SECTION("a size that is not a multiple of the sector size")
    {
        const std::string odd = make_image(dir, "odd.img", 1000);
        CHECK_THAT(device_error({odd, false, 512}),
                   Catch::Contains("size 1000 is not a multiple of the sector size 512"));
        const std::string half = make_image(dir, "half.img", 6 * 512);
        CHECK_THAT(device_error({half, false, 4096}),
                   Catch::Contains("size 3072 is not a multiple of the sector size 4096"));
        CHECK_NOTHROW(BlockDevice("disk", BlockBacking{half, false, 1024}));
    }
    SECTION("a bad sector size")
    {
        const std::string path = make_image(dir, "disk.img", 1u << 20);
        for (const uint32_t size : {0u, 256u, 511u, 1000u, 131072u, 0x80000000u})
            CHECK_THAT(device_error({path, false, size}),
                       Catch::Contains(fmt::format("sector size {} is not a power of two in 512..65536", size)));
        for (const uint32_t size : {512u, 4096u, 65536u})
            CHECK_NOTHROW(BlockDevice("disk", BlockBacking{path, false, size}));
    }
}

TEST_CASE("block device: an image has one writer or any number of readers", "[block]")
{
    TempDir dir;
    const std::string path = make_image(dir, "disk.img", 1u << 20);
    const std::string in_use = "block device 'disk' (" + path + "): the image is in use by another process";
    SECTION("a second writer")
    {
        BlockDevice first("first", BlockBacking{path, false, 512});
        CHECK_THAT(device_error({path, false, 512}), Catch::Equals(in_use));
        CHECK_THAT(device_error({path, true, 512}), Catch::Equals(in_use));
    }
    SECTION("a writer while readers hold it")
    {
        BlockDevice r1("r1", BlockBacking{path, true, 512});
        CHECK_NOTHROW(BlockDevice("r2", BlockBacking{path, true, 512}));
        CHECK_THAT(device_error({path, false, 512}), Catch::Equals(in_use));
    }
    SECTION("the lock goes with the device")
    {
        {
            BlockDevice first("first", BlockBacking{path, false, 512});
        }
        CHECK_NOTHROW(BlockDevice("second", BlockBacking{path, false, 512}));
    }
}
