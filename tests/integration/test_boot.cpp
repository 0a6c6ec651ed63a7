// Boots the example and test unikernels and asserts their output, diagnoses and exit codes.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <ukrun/abi.h>

#include "ukrun_process.hpp"

using ukrun::test::ProcessResult;
using ukrun::test::run_process;

namespace {

ProcessResult boot(const std::string& name, std::vector<std::string> args = {}, std::vector<std::string> opts = {})
{
    return ukrun::test::run_ukrun(opts, ukrun::test::guest_elf(name), args);
}

// A diagnosis is exactly one line on stderr, prefixed "ukrun: ".
void check_one_line_diagnosis(const ProcessResult& r, const std::string& expected)
{
    INFO("stderr: " << r.err);
    CHECK_THAT(r.err, Catch::StartsWith("ukrun: ") && Catch::Contains(expected));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

} // namespace

TEST_CASE("hello prints its greeting and arguments and exits 0", "[boot]")
{
    const ProcessResult r = run_process({UKRUN_BINARY, HELLO_ELF, "a", "b c"});
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("Hello") && Catch::Contains("a\n") && Catch::Contains("b c\n"));
    CHECK(r.err.empty());
}

TEST_CASE("the guest's exit status becomes ukrun's", "[boot]")
{
    for (int status : {0, 1, 42, 111}) {
        const ProcessResult r = boot("exit_status", {std::to_string(status)});
        INFO("stderr: " << r.err);
        CHECK(r.exit_code == status);
    }
}

TEST_CASE("each CPU fault is diagnosed in one line with exit code 113", "[boot][fault]")
{
    struct Case {
        const char* guest;
        const char* diagnosis;
    };
    const Case cases[] = {
        {"fault_null_deref", "#PF page fault: null pointer dereference"},
        {"fault_write_text", "W^X violation: write to code"},
        {"fault_exec_data", "W^X violation: execute of non-executable data"},
        {"fault_exec_stack", "W^X violation: execute of non-executable stack"},
        {"fault_stack_overflow", "stack overflow"},
        {"fault_ud", "#UD invalid opcode"},
        {"fault_div_zero", "#DE divide error"},
        {"fault_breakpoint", "#BP breakpoint"},
    };
    for (const auto& c : cases) {
        SECTION(c.guest)
        {
            const ProcessResult r = boot(c.guest);
            CHECK(r.exit_code == UKRUN_EXIT_GUEST_FAULT);
            check_one_line_diagnosis(r, c.diagnosis);
            CHECK_THAT(r.err, Catch::Contains("rip 0x"));
        }
    }
}

TEST_CASE("faults name the function they happened in", "[boot][fault]")
{
    const ProcessResult r = boot("fault_null_deref");
    CHECK_THAT(r.err, Catch::Matches(".*rip 0x[0-9a-f]+ <[A-Za-z_][A-Za-z0-9_]*\\+0x[0-9a-f]+>.*\n"));
}

TEST_CASE("hostile hypercalls end the VM with exit code 114", "[boot][hypercall]")
{
    struct Case {
        const char* guest;
        const char* diagnosis;
    };
    const Case cases[] = {
        {"hc_bad_address", "console-write hypercall: data guest range"},
        {"hc_overflow_len", "console-write hypercall"},
        {"hc_unknown_nr", "unknown hypercall number"},
        {"hc_unknown_port", "outside ukrun's hypercall ports"},
        {"hc_arg_outside", "argument struct at"},
        {"hc_bad_exit_status", "status 200 is outside 0..111"},
    };
    for (const auto& c : cases) {
        SECTION(c.guest)
        {
            const ProcessResult r = boot(c.guest);
            CHECK(r.exit_code == UKRUN_EXIT_GUEST_VIOLATION);
            check_one_line_diagnosis(r, c.diagnosis);
        }
    }
}

TEST_CASE("abort and a smashed stack end with exit code 112", "[boot]")
{
    const ProcessResult a = boot("abort");
    CHECK(a.exit_code == UKRUN_EXIT_GUEST_ABORT);
    check_one_line_diagnosis(a, "guest aborted: abort() called");
    const ProcessResult s = boot("stack_protector");
    CHECK(s.exit_code == UKRUN_EXIT_GUEST_ABORT);
    check_one_line_diagnosis(s, "stack smashing detected");
}

TEST_CASE("runtime guests pass their self-checks", "[boot]")
{
    struct Case {
        const char* guest;
        const char* expected;
    };
    const Case cases[] = {
        {"clock", "clock: ok"},
        {"heap", "heap: ok"},
        {"ctors", "ctors: ok"},
        {"c_guest", "c guest: ok"},
    };
    for (const auto& c : cases) {
        SECTION(c.guest)
        {
            const ProcessResult r = boot(c.guest);
            INFO("stdout: " << r.out << "\nstderr: " << r.err);
            CHECK(r.exit_code == 0);
            CHECK_THAT(r.out, Catch::Contains(c.expected));
        }
    }
}

TEST_CASE("--stats and --trace-boot report on stderr", "[boot]")
{
    const ProcessResult r = run_process({UKRUN_BINARY, "--stats", "--trace-boot", HELLO_ELF});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.err, Catch::Contains("boot trace:") && Catch::Contains("create-vm") && Catch::Contains("total"));
    CHECK_THAT(r.err, Catch::Contains("stats: exits") && Catch::Contains("console-write=") &&
                          Catch::Contains("exit=1"));
}

TEST_CASE("the guest sees no virtualization features in CPUID", "[boot][cpuid]")
{
    // On hosts where KVM intercepts CPUID at CPL 3 (VMX, SVM) the guest sees ukrun's curated
    // table. The PVM backend runs CPL 3 natively and CPUID is answered by the host there, so
    // only the feature bits are checked.
    const bool pvm = ::access("/sys/module/kvm_pvm", F_OK) == 0;
    const ProcessResult r = boot("cpuid", {pvm ? "host" : "curated"});
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("cpuid: ok"));
}
