// Boots the block guests and the key-value example against real disk images and checks data, errors and exits.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <ukrun/abi.h>

#include "../guests/blk_pattern.hpp"
#include "background_process.hpp"
#include "temp_dir.hpp"
#include "ukrun_process.hpp"

using ukrun::test::BackgroundProcess;
using ukrun::test::guest_elf;
using ukrun::test::ProcessResult;
using ukrun::test::run_ukrun;
using ukrun::test::TempDir;

namespace {

// A sparse (all-zero) image of `bytes`.
std::string make_image(const TempDir& dir, const std::string& name, uint64_t bytes)
{
    const std::string path = dir.file(name);
    const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(bytes)) == 0);
    ::close(fd);
    return path;
}

std::vector<uint8_t> read_file(const std::string& path, uint64_t bytes)
{
    std::vector<uint8_t> out(bytes);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::pread(fd, out.data(), bytes, 0) == static_cast<ssize_t>(bytes));
    ::close(fd);
    return out;
}

// A diagnosis is exactly one line on stderr, prefixed "ukrun: ".
void check_one_line_diagnosis(const ProcessResult& r, const std::string& expected)
{
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK_THAT(r.err, Catch::StartsWith("ukrun: ") && Catch::Contains(expected));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

// The storage device's counters from --stats.
struct DeviceStats {
    uint64_t notifications = 0, requests = 0, reads = 0, writes = 0, flushes = 0, errors = 0;
};
DeviceStats storage_stats(const std::string& err)
{
    static const std::regex line(
        "storage: notifications=(\\d+) requests=(\\d+) reads=(\\d+) writes=(\\d+) flushes=(\\d+) errors=(\\d+)");
    std::smatch m;
    REQUIRE(std::regex_search(err, m, line));
    const auto n = [&](std::size_t i) { return std::stoull(m[i].str()); };
    return {n(1), n(2), n(3), n(4), n(5), n(6)};
}

} // namespace

TEST_CASE("blk_rw writes, flushes, reads back and verifies through the block device", "[block]")
{
    TempDir dir;
    const std::string image = make_image(dir, "disk.img", 8u << 20);
    const ProcessResult r = run_ukrun({"--stats", "--block", "storage=" + image}, guest_elf("blk_rw"));
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("blk: ok,"));
    CHECK_THAT(r.out, Catch::Contains("batch of 64 writes + flush and 64 reads verified"));

    // The sequential phase went to the file: its first bytes are blk_rw's batch pattern or
    // its sequential one, never the zeros the image started with.
    const auto head = read_file(image, 4096);
    CHECK(std::any_of(head.begin(), head.end(), [](uint8_t b) { return b != 0; }));

    // The 129 requests of blk_rw's two batches go out with one notify per queue-full, so
    // they cost far fewer notifications than requests; every other request costs one.
    const DeviceStats s = storage_stats(r.err);
    CHECK(s.errors == 2); // the two out-of-range reads, refused by the device
    CHECK(s.flushes == 2);
    const uint64_t batched = 64 + 1 + 64;
    INFO("notifications " << s.notifications << ", requests " << s.requests);
    CHECK(s.notifications <= (s.requests - batched) + batched / 8);
}

TEST_CASE("blk_bench's queue-depth batches cost far fewer notifications than requests", "[block]")
{
    TempDir dir;
    const std::string image = make_image(dir, "disk.img", 4u << 20);
    const ProcessResult r = run_ukrun({"--stats", "--block", "storage=" + image}, guest_elf("blk_bench"), {"2"});
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("bench seq-write 4096 MBps=") && Catch::Contains("bench rand-read 65536"));
    const DeviceStats s = storage_stats(r.err);
    CHECK(s.requests > 1000);
    CHECK(s.errors == 0);
    CHECK(s.notifications < s.requests / 8);
    // The monitor's own count of notify hypercalls agrees with the device's.
    CHECK_THAT(r.err, Catch::Contains("; notifications=" + std::to_string(s.notifications) + ";"));
}

TEST_CASE("a read-only disk serves reads and fails writes with an I/O error", "[block]")
{
    TempDir dir;
    const std::string image = make_image(dir, "disk.img", 1u << 20);
    const std::vector<std::vector<std::string>> ways = {
        {"--block", "storage=" + image + ":ro"},
        {"--block", "storage=" + image, "--block-readonly", "storage"},
    };
    for (const auto& options : ways) {
        std::vector<std::string> with_stats = options;
        with_stats.push_back("--stats");
        const ProcessResult r = run_ukrun(with_stats, guest_elf("blk_readonly"));
        INFO("options: " << options[1] << "\nstdout: " << r.out << "\nstderr: " << r.err);
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.out, Catch::Contains("write refused: I/O error") && Catch::Contains("blk readonly: ok"));
        const DeviceStats s = storage_stats(r.err);
        CHECK(s.writes == 0);
        CHECK(s.errors == 1);
    }
    // A guest that needs to write fails on it, and says where.
    const ProcessResult rw = run_ukrun({"--block", "storage=" + image + ":ro"}, guest_elf("blk_rw"));
    CHECK(rw.exit_code == 1);
    CHECK_THAT(rw.out, Catch::Contains("blk: FAIL: write"));
}

TEST_CASE("unusable disk images end ukrun with 122 and a one-line message naming the device", "[block]")
{
    TempDir dir;
    const std::string good = make_image(dir, "good.img", 1u << 20);
    std::filesystem::create_directory(dir.file("adir"));
    struct Case {
        const char* what; // section names must not change between runs: no temp paths
        std::string backing;
        std::string diagnosis;
    };
    const std::vector<Case> cases = {
        {"missing", dir.file("missing.img"), "cannot open: No such file or directory"},
        {"directory", dir.file("adir"), "cannot open: Is a directory"},
        {"directory, read-only", dir.file("adir") + ":ro", "not a regular file or block device"},
        {"under a regular file", good + "/disk.img", "cannot open: Not a directory"},
        {"empty", make_image(dir, "empty.img", 0), "the image is empty"},
        {"1000 bytes", make_image(dir, "odd.img", 1000), "size 1000 is not a multiple of the sector size 512"},
        {"1 MiB + 1", make_image(dir, "odd2.img", (1u << 20) + 1), "is not a multiple of the sector size 512"},
    };
    for (const auto& c : cases) {
        SECTION(c.what)
        {
            const ProcessResult r = run_ukrun({"--block", "storage=" + c.backing}, guest_elf("blk_rw"));
            CHECK(r.exit_code == UKRUN_EXIT_BAD_DEVICE);
            check_one_line_diagnosis(r, "block device 'storage'");
            check_one_line_diagnosis(r, c.diagnosis);
            CHECK(r.out.empty()); // refused before the guest ran
        }
    }
    SECTION("a size that is whole 512-byte sectors but not whole 4 KiB ones")
    {
        const std::string image = make_image(dir, "3k.img", 3 * 1024);
        const ProcessResult r = run_ukrun({"--block", "storage=" + image, "--block-sector-size", "storage=4096"},
                                          guest_elf("blk_rw"));
        CHECK(r.exit_code == UKRUN_EXIT_BAD_DEVICE);
        check_one_line_diagnosis(r, "block device 'storage' (" + image +
                                        "): size 3072 is not a multiple of the sector size 4096");
    }
    SECTION("an image another process holds exclusively")
    {
        const int fd = ::open(good.c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        REQUIRE(::flock(fd, LOCK_EX) == 0);
        const ProcessResult r = run_ukrun({"--block", "storage=" + good}, guest_elf("blk_rw"));
        const ProcessResult ro = run_ukrun({"--block", "storage=" + good + ":ro"}, guest_elf("blk_readonly"));
        ::close(fd);
        CHECK(r.exit_code == UKRUN_EXIT_BAD_DEVICE);
        check_one_line_diagnosis(r, "block device 'storage' (" + good + "): the image is in use by another process");
        CHECK(ro.exit_code == UKRUN_EXIT_BAD_DEVICE);
        check_one_line_diagnosis(ro, "the image is in use by another process");
    }
}

TEST_CASE("disks must match the manifest: declared ones backed, undeclared ones refused", "[block]")
{
    TempDir dir;
    const std::string image = make_image(dir, "disk.img", 1u << 20);
    SECTION("a declared device without a backing")
    {
        const ProcessResult r = run_ukrun({}, guest_elf("blk_rw"));
        CHECK(r.exit_code == UKRUN_EXIT_BAD_DEVICE);
        check_one_line_diagnosis(r, "declares block device 'storage' but no backing was given");
    }
    SECTION("a backing for a device the unikernel does not declare")
    {
        const ProcessResult r =
            run_ukrun({"--block", "storage=" + image, "--block", "other=" + image}, guest_elf("blk_rw"));
        CHECK(r.exit_code == UKRUN_EXIT_BAD_DEVICE);
        check_one_line_diagnosis(r, "--block other: the unikernel declares no device named 'other'");
    }
    SECTION("a backing for a unikernel that declares no devices")
    {
        const ProcessResult r = run_ukrun({"--block", "storage=" + image}, HELLO_ELF);
        CHECK(r.exit_code == UKRUN_EXIT_BAD_DEVICE);
        check_one_line_diagnosis(r, "declares no device named 'storage'");
        CHECK(r.out.empty());
    }
}

TEST_CASE("each corrupt block ring ends the VM with 114 and a precise diagnosis", "[block][hostile]")
{
    TempDir dir;
    const std::string image = make_image(dir, "disk.img", 1u << 20);
    struct Case {
        const char* mode;
        const char* diagnosis;
        const char* also = "";
    };
    const Case cases[] = {
        {"avail-jump", "storage queue 0: available index jumped by 129 (queue size 128)"},
        {"loop", "storage queue 0: chain at descriptor 0 is longer than the queue (a loop?)"},
        {"next-oob", "storage queue 0: descriptor 0 links to 133 (queue size 128)"},
        {"addr-oob", "storage queue 0: descriptor 1 buffer 0x4001000+0x200 lies outside guest memory"},
        // With at most 4 GiB of guest memory a 0xffffffff-byte buffer cannot lie inside it, so
        // this ends at the memory check before the length-overflow one; the unit tests reach
        // that one with several in-memory buffers.
        {"huge-len", "storage queue 0: descriptor 1 buffer 0x", "+0xffffffff lies outside guest memory"},
        {"write-before-read", "storage queue 0: descriptor 1 is device-readable after a device-writable one"},
        {"bad-device", "notify hypercall for device 8: the unikernel has 1 device(s)"},
        {"bad-queue", "notify for block device 'storage' queue 1: it has one queue"},
    };
    for (const auto& c : cases) {
        SECTION(c.mode)
        {
            const ProcessResult r = run_ukrun({"--block", "storage=" + image}, guest_elf("blk_hostile"), {c.mode});
            INFO("stdout: " << r.out);
            CHECK(r.exit_code == UKRUN_EXIT_GUEST_VIOLATION);
            check_one_line_diagnosis(r, std::string("guest violation: ") + c.diagnosis);
            CHECK_THAT(r.err, Catch::Contains(c.also));
            CHECK_THAT(r.out, Catch::Contains(std::string("hostile: ") + c.mode));
            CHECK_THAT(r.out, !Catch::Contains("monitor accepted"));
        }
    }
}

TEST_CASE("flushed writes survive SIGKILL of ukrun and are read back by a new VM", "[block][persist]")
{
    TempDir dir;
    const std::string image = make_image(dir, "disk.img", 4u << 20);
    {
        BackgroundProcess writer({UKRUN_BINARY, "--block", "storage=" + image, guest_elf("blk_persist"), "write"});
        // The generous timeout only turns a writer that never flushes into a failure instead of a hang.
        REQUIRE(writer.wait_for_output("flushed\n", 60000));

        // While it runs, the image is locked against a second writer.
        const ProcessResult second = run_ukrun({"--block", "storage=" + image}, guest_elf("blk_persist"), {"verify"});
        CHECK(second.exit_code == UKRUN_EXIT_BAD_DEVICE);
        check_one_line_diagnosis(second, "the image is in use by another process");

        CHECK(writer.stop(SIGKILL) == 128 + SIGKILL);
        INFO("writer stdout: " << writer.out() << "\nwriter stderr: " << writer.err());
        CHECK_THAT(writer.out(), !Catch::Contains("woke up"));
    }

    // The bytes are on disk, exactly the guest's pattern.
    const auto bytes = read_file(image, persist_region_max);
    CHECK(pattern_check(persist_seed, 0, bytes.data(), bytes.size()) == UINT64_MAX);

    const ProcessResult verify = run_ukrun({"--block", "storage=" + image + ":ro"}, guest_elf("blk_persist"),
                                           {"verify"});
    INFO("stdout: " << verify.out << "\nstderr: " << verify.err);
    CHECK(verify.exit_code == 0);
    CHECK_THAT(verify.out, Catch::Contains("persist: ok"));

    // And verify fails on a disk without the pattern, so "ok" means something.
    const std::string blank = make_image(dir, "blank.img", 4u << 20);
    const ProcessResult wrong = run_ukrun({"--block", "storage=" + blank}, guest_elf("blk_persist"), {"verify"});
    CHECK(wrong.exit_code == 1);
    CHECK_THAT(wrong.out, Catch::Contains("persist: FAIL: wrong data at disk offset 0"));
}

TEST_CASE("the blk key-value store keeps its data across separate runs", "[block][example]")
{
    TempDir dir;
    const std::string image = make_image(dir, "kv.img", 1u << 20);
    const auto kv = [&](std::vector<std::string> args, bool readonly = false) {
        const ProcessResult r = run_ukrun({"--block", "storage=" + image + (readonly ? ":ro" : "")}, BLK_ELF, args);
        INFO("blk " << args[0] << "\nstdout: " << r.out << "\nstderr: " << r.err);
        CHECK(r.err.empty());
        return r;
    };

    // A blank disk is an empty store.
    CHECK(kv({"get", "greeting"}).exit_code == 1);
    ProcessResult r = kv({"list"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.empty());

    CHECK(kv({"put", "greeting", "hello world"}).exit_code == 0);
    CHECK(kv({"put", "answer", "42"}).exit_code == 0);
    CHECK(kv({"put", "empty", ""}).exit_code == 0);
    r = kv({"get", "greeting"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "hello world\n");
    r = kv({"get", "answer"}, true);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "42\n");
    r = kv({"list"}, true);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "greeting=hello world\nanswer=42\nempty=\n");

    // Overwrite, delete, and the store goes on.
    CHECK(kv({"put", "answer", "43"}).exit_code == 0);
    CHECK(kv({"get", "answer"}).out == "43\n");
    CHECK(kv({"del", "greeting"}).exit_code == 0);
    r = kv({"get", "greeting"});
    CHECK(r.exit_code == 1);
    CHECK(r.out == "not found\n");
    CHECK(kv({"del", "greeting"}).exit_code == 1);
    CHECK(kv({"list"}).out == "answer=43\nempty=\n");
    // A freed slot is reused.
    CHECK(kv({"put", "new", "v"}).exit_code == 0);
    CHECK(kv({"list"}).out == "new=v\nanswer=43\nempty=\n");

    // Writes on a read-only disk are refused by the example before it tries.
    r = kv({"put", "x", "y"}, true);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("read-only"));

    // The store is on the image itself: its header sector carries the magic.
    const auto header = read_file(image, 8);
    CHECK(std::string(header.begin(), header.begin() + 7) == "ukrunkv");

    // A disk that holds something else is left alone.
    const std::string other = make_image(dir, "other.img", 1u << 20);
    {
        const int fd = ::open(other.c_str(), O_WRONLY | O_CLOEXEC);
        REQUIRE(::pwrite(fd, "not a store", 11, 0) == 11);
        ::close(fd);
    }
    const ProcessResult foreign = run_ukrun({"--block", "storage=" + other}, BLK_ELF, {"put", "k", "v"});
    CHECK(foreign.exit_code == 1);
    CHECK_THAT(foreign.out, Catch::Contains("not a key-value store"));
    CHECK(read_file(other, 11) == std::vector<uint8_t>{'n', 'o', 't', ' ', 'a', ' ', 's', 't', 'o', 'r', 'e'});
}
