// Process lifetime: constructors, atexit handlers, exit, abort, panic and the stack protector.

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <ukrun/ukrun.h>

#include "hypercall.hpp"
#include "internal.hpp"

extern "C" {
// Replaced by ukrun_start with a value mixed from the TSC before main runs.
uintptr_t __stack_chk_guard = 0x595e9fbd94fda700ull;
// Identifies "this image" to __cxa_atexit; there are no shared objects.
[[gnu::visibility("hidden")]] void* __dso_handle = &__dso_handle;

extern void (*__preinit_array_start[])();
extern void (*__preinit_array_end[])();
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
extern void (*__fini_array_start[])();
extern void (*__fini_array_end[])();
}

namespace {

struct ExitHandler {
    void (*function)(void*);
    void* argument;
};

constexpr size_t max_exit_handlers = 128;
ExitHandler exit_handlers[max_exit_handlers];
size_t exit_handler_count;
bool exiting;

void call_plain_function(void* function)
{
    reinterpret_cast<void (*)()>(function)();
}

[[noreturn]] void exit_vm(uint32_t status)
{
    ukrun_console_flush();
    ukrun_hc_exit request{status, 0};
    ukrun::hypercall(UKRUN_HC_EXIT, &request);
    // The monitor never resumes after an exit; if it does, a fault is the clearest report.
    __builtin_trap();
}

} // namespace

namespace ukrun {

void run_constructors()
{
    for (auto* constructor = __preinit_array_start; constructor != __preinit_array_end; ++constructor)
        (*constructor)();
    for (auto* constructor = __init_array_start; constructor != __init_array_end; ++constructor)
        (*constructor)();
}

void run_exit_handlers()
{
    // A handler that calls exit() must not run the handlers again.
    if (exiting)
        return;
    exiting = true;
    while (exit_handler_count > 0) {
        const ExitHandler handler = exit_handlers[--exit_handler_count];
        handler.function(handler.argument);
    }
    for (auto* destructor = __fini_array_end; destructor != __fini_array_start;)
        (*--destructor)();
}

void abort_with(const char* message, size_t len)
{
    ukrun_console_flush();
    if (len > UKRUN_ABORT_MESSAGE_MAX)
        len = UKRUN_ABORT_MESSAGE_MAX;
    ukrun_hc_abort request{reinterpret_cast<uintptr_t>(message), len};
    hypercall(UKRUN_HC_ABORT, &request);
    __builtin_trap();
}

} // namespace ukrun

extern "C" {

const ukrun_boot_info* ukrun_get_boot_info(void)
{
    return ukrun::boot_info;
}

// Statuses above UKRUN_EXIT_STATUS_MAX are passed through: the monitor diagnoses them.
void ukrun_exit(int status)
{
    exit_vm(static_cast<uint32_t>(status));
}

void exit(int status)
{
    ukrun::run_exit_handlers();
    exit_vm(static_cast<uint32_t>(status));
}

void _Exit(int status)
{
    exit_vm(static_cast<uint32_t>(status));
}

int __cxa_atexit(void (*function)(void*), void* argument, void* /*dso*/)
{
    if (exit_handler_count == max_exit_handlers)
        return -1;
    exit_handlers[exit_handler_count++] = {function, argument};
    return 0;
}

int atexit(void (*function)(void))
{
    return __cxa_atexit(call_plain_function, reinterpret_cast<void*>(function), __dso_handle);
}

void abort(void)
{
    static const char message[] = "abort() called";
    ukrun::abort_with(message, sizeof(message) - 1);
}

void ukrun_panic(const char* format, ...)
{
    // Static: the stack may be what went wrong.
    static char message[UKRUN_ABORT_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    const int len = ukrun_vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    const size_t written = len < 0 ? 0 : static_cast<size_t>(len);
    ukrun::abort_with(message, written < sizeof(message) ? written : sizeof(message) - 1);
}

void __stack_chk_fail(void)
{
    static const char message[] = "stack smashing detected";
    ukrun::abort_with(message, sizeof(message) - 1);
}

void __assert_fail(const char* expression, const char* file, unsigned int line, const char* function)
{
    ukrun_panic("%s:%u: %s: assertion failed: %s", file, line, function, expression);
}

} // extern "C"
