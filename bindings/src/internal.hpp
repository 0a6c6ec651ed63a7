// Runtime pieces that the bindings' own files share but unikernels do not see.
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <ukrun/abi.h>

namespace ukrun {

// Set once by ukrun_start before anything else runs.
extern const ukrun_boot_info* boot_info;

void clock_init(const ukrun_boot_info& info);
void heap_init(const ukrun_boot_info& info);
// Runs atexit handlers and .fini_array, once; exit() calls it before the exit hypercall.
void run_exit_handlers();

// Receives formatted output in pieces.
struct FormatSink {
    void (*write)(FormatSink* self, const char* data, size_t len);
};
// The printf engine: returns the number of characters produced (clamped to INT_MAX).
int format(FormatSink& sink, const char* format, va_list args);

[[noreturn]] void abort_with(const char* message, size_t len);
// Calls the constructors recorded in .preinit_array and .init_array.
void run_constructors();

} // namespace ukrun
