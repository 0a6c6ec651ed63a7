// Entry point: _start, the ABI note, and ukrun_start, which prepares the runtime and calls main.

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ukrun/ukrun.h>

#include "internal.hpp"

extern "C" int main(int argc, char** argv);

// The monitor refuses an image whose note does not match its ABI version. This file is
// always linked (the linker script names _start), so every image carries the note.
namespace {
struct AbiNote {
    uint32_t namesz;
    uint32_t descsz;
    uint32_t type;
    char name[8]; // "ukrun" and its NUL, padded to 4-byte alignment
    ukrun_note_abi desc;
};
static_assert(sizeof(AbiNote) == 24);
} // namespace

[[gnu::section(".note.ukrun.abi"), gnu::used, gnu::aligned(4)]] static const AbiNote abi_note = {
    sizeof(UKRUN_NOTE_NAME), sizeof(ukrun_note_abi), UKRUN_NOTE_ABI, UKRUN_NOTE_NAME,
    {UKRUN_ABI_VERSION}};

// %rdi holds the boot info and is passed straight through. A zero %rbp ends frame-pointer
// backtraces here; the stack is already 16-byte aligned but realigning costs nothing.
asm(R"(
    .section .text.ukrun_start, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    xorl %ebp, %ebp
    andq $-16, %rsp
    call ukrun_start
    ud2
    .size _start, . - _start
    .text
)");

namespace ukrun {
const ukrun_boot_info* boot_info;
}

namespace {

constexpr size_t max_arguments = 64;
char cmdline_copy[UKRUN_CMDLINE_MAX];
char* argv_table[max_arguments + 1];

// The boot info page is read-only, but C lets a program write to its argv strings.
int build_argv(const ukrun_boot_info& info)
{
    if (info.cmdline_len > UKRUN_CMDLINE_MAX)
        ukrun_panic("boot info: cmdline_len %u exceeds %u", info.cmdline_len, UKRUN_CMDLINE_MAX);
    if (info.argc > max_arguments)
        ukrun_panic("too many arguments: %u (at most %zu)", info.argc, max_arguments);
    if (info.cmdline_len != 0)
        memcpy(cmdline_copy, reinterpret_cast<const void*>(static_cast<uintptr_t>(info.cmdline)),
               info.cmdline_len);
    size_t offset = 0;
    for (uint32_t i = 0; i < info.argc; ++i) {
        const size_t remaining = info.cmdline_len - offset;
        const size_t len = strnlen(cmdline_copy + offset, remaining);
        if (len == remaining)
            ukrun_panic("boot info: argument %u is not NUL-terminated within cmdline_len", i);
        argv_table[i] = cmdline_copy + offset;
        offset += len + 1;
    }
    argv_table[info.argc] = nullptr;
    return static_cast<int>(info.argc);
}

uint64_t read_tsc()
{
    uint32_t low;
    uint32_t high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (static_cast<uint64_t>(high) << 32) | low;
}

// A splitmix64 finaliser spreads the few unpredictable low TSC bits over the whole word.
uint64_t mix(uint64_t value)
{
    value += 0x9e3779b97f4a7c15ull;
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ull;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebull;
    return value ^ (value >> 31);
}

} // namespace

extern "C" uintptr_t __stack_chk_guard;

// Not protected itself: it changes the canary and never returns, so a check in its own
// epilogue would compare against the wrong value.
extern "C" [[noreturn, gnu::no_stack_protector, gnu::used]] void ukrun_start(
    const ukrun_boot_info* info)
{
    // A zero low byte stops string functions from reading or writing past the canary.
    __stack_chk_guard = mix(read_tsc() ^ reinterpret_cast<uintptr_t>(info)) & ~uintptr_t{0xff};

    ukrun::boot_info = info;
    if (info->abi_version != UKRUN_ABI_VERSION)
        ukrun_panic("boot info: ABI version %u, these bindings speak %u", info->abi_version,
                    UKRUN_ABI_VERSION);
    if (info->size < sizeof(ukrun_boot_info))
        ukrun_panic("boot info: size %u, expected at least %zu", info->size, sizeof(ukrun_boot_info));

    ukrun::clock_init(*info);
    ukrun::heap_init(*info);
    const int argc = build_argv(*info);
    ukrun::run_constructors();
    exit(main(argc, argv_table));
}
