// Malformed images, options and host problems: one line naming the cause, a documented code.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <ukrun/abi.h>

#include "elf_builder.hpp"
#include "ukrun_process.hpp"

using ukrun::test::Bytes;
using ukrun::test::ElfBuilder;
using ukrun::test::ProcessResult;
using ukrun::test::run_process;

namespace {

// A file in a fresh temporary directory, removed with it.
class TempFile {
public:
    explicit TempFile(const Bytes& bytes)
    {
        char dir[] = "/tmp/ukrun-test-XXXXXX";
        REQUIRE(::mkdtemp(dir) != nullptr);
        dir_ = dir;
        path_ = dir_ + "/image.elf";
        std::ofstream(path_, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                      static_cast<std::streamsize>(bytes.size()));
    }
    ~TempFile()
    {
        std::remove(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    const std::string& path() const { return path_; }

private:
    std::string dir_, path_;
};

Bytes read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return Bytes(reinterpret_cast<const std::byte*>(s.data()), reinterpret_cast<const std::byte*>(s.data()) + s.size());
}

void check_rejected(const Bytes& image, const std::string& reason, int code = UKRUN_EXIT_BAD_IMAGE)
{
    const TempFile file(image);
    const ProcessResult r = run_process({UKRUN_BINARY, file.path()});
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == code);
    CHECK_THAT(r.err, Catch::StartsWith("ukrun: " + file.path() + ": ") && Catch::Contains(reason));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());
}

} // namespace

TEST_CASE("malformed ELF files are refused before a VM exists", "[image]")
{
    const Bytes hello = read_file(HELLO_ELF);
    REQUIRE(hello.size() > 64);

    SECTION("empty") { check_rejected({}, "empty"); }
    SECTION("truncated header") { check_rejected(Bytes(hello.begin(), hello.begin() + 20), "truncated"); }
    SECTION("not ELF")
    {
        Bytes b = hello;
        b[0] = std::byte{'X'};
        check_rejected(b, "not an ELF file");
    }
    SECTION("32-bit class")
    {
        Bytes b = hello;
        b[EI_CLASS] = std::byte{ELFCLASS32};
        check_rejected(b, "64");
    }
    SECTION("wrong machine")
    {
        ElfBuilder e;
        e.machine = EM_AARCH64;
        check_rejected(e.build(), "x86-64");
    }
    SECTION("shared object")
    {
        ElfBuilder e;
        e.type = ET_DYN;
        check_rejected(e.build(), "ET_DYN");
    }
    SECTION("writable and executable segment")
    {
        ElfBuilder e;
        e.segments[0].phdr.p_flags = PF_R | PF_W | PF_X;
        check_rejected(e.build(), "both writable and executable");
    }
    SECTION("segment outside guest memory")
    {
        ElfBuilder e;
        e.segments[2].phdr.p_memsz = 1ull << 40;
        check_rejected(e.build(), "guest memory");
    }
    SECTION("entry outside code")
    {
        ElfBuilder e;
        e.entry = ElfBuilder::data;
        check_rejected(e.build(), "entry");
    }
    SECTION("missing ABI note")
    {
        ElfBuilder e;
        e.set_notes({});
        check_rejected(e.build(), "ABI note");
    }
    SECTION("ABI version mismatch")
    {
        ElfBuilder e;
        e.set_notes(ukrun::test::abi_note(UKRUN_ABI_VERSION + 6));
        check_rejected(e.build(), "ABI");
    }
    SECTION("every truncation of hello is refused cleanly")
    {
        for (std::size_t len : {std::size_t{64}, std::size_t{200}, hello.size() / 2, hello.size() - 1}) {
            const TempFile file(Bytes(hello.begin(), hello.begin() + static_cast<std::ptrdiff_t>(len)));
            const ProcessResult r = run_process({UKRUN_BINARY, file.path()});
            INFO("length " << len << " stderr: " << r.err);
            CHECK(r.exit_code == UKRUN_EXIT_BAD_IMAGE);
            CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        }
    }
}

TEST_CASE("missing files and bad options get their own exit codes", "[image][options]")
{
    const ProcessResult missing = run_process({UKRUN_BINARY, "/nonexistent/app.elf"});
    CHECK(missing.exit_code == UKRUN_EXIT_BAD_IMAGE);
    CHECK_THAT(missing.err, Catch::Contains("/nonexistent/app.elf: cannot open: No such file"));

    const ProcessResult dir = run_process({UKRUN_BINARY, "/tmp"});
    CHECK(dir.exit_code == UKRUN_EXIT_BAD_IMAGE);
    CHECK_THAT(dir.err, Catch::Contains("not a regular file"));

    const ProcessResult usage = run_process({UKRUN_BINARY, "--mem", "lots", HELLO_ELF});
    CHECK(usage.exit_code == UKRUN_EXIT_USAGE);
    CHECK_THAT(usage.err, Catch::StartsWith("ukrun: --mem lots"));

    const ProcessResult none = run_process({UKRUN_BINARY});
    CHECK(none.exit_code == UKRUN_EXIT_USAGE);

    const ProcessResult help = run_process({UKRUN_BINARY, "--help"});
    CHECK(help.exit_code == 0);
    CHECK_THAT(help.out, Catch::Contains("Usage"));

    const std::string long_arg(UKRUN_CMDLINE_MAX, 'x');
    const ProcessResult too_long = run_process({UKRUN_BINARY, HELLO_ELF, long_arg});
    CHECK(too_long.exit_code == UKRUN_EXIT_USAGE);
    CHECK_THAT(too_long.err, Catch::Contains("limit of 4096"));
}
