// libFuzzer target: parse_elf and find_symbol on arbitrary bytes must only ever return or throw ImageError.
#include <cstddef>
#include <cstdint>
#include <span>

#include "elf_builder.hpp"
#include "elf_image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A read-only copy ending at a guard page: libelf is not ASan-instrumented, so this is
    // what catches its reads past the end, and any write to the image.
    const ukrun::test::GuardedCopy copy(std::as_bytes(std::span(data, size)));
    try {
        const ukrun::LoadPlan plan = ukrun::parse_elf(copy.bytes(), 64ull << 20);
        (void)ukrun::find_symbol(copy.bytes(), plan.entry);
    } catch (const ukrun::ImageError&) {
    }
    (void)ukrun::find_symbol(copy.bytes(), 0x100010);
    return 0;
}
