/* ukrun unikernel API: console, formatting, clocks, polling, exit and heap, for C and C++ guests. */
#ifndef UKRUN_UKRUN_H
#define UKRUN_UKRUN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <ukrun/abi.h>

#ifdef __cplusplus
extern "C" {
#define UKRUN_NORETURN [[noreturn]]
#else
#define UKRUN_NORETURN _Noreturn
#endif

#define UKRUN_PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))

/* ---- Boot information ---- */
/* The monitor's read-only description of this VM (memory, heap, stack, devices, argv). */
const struct ukrun_boot_info* ukrun_get_boot_info(void);

/* ---- Console ---- */
/* Writes bytes to the monitor's console, after anything still buffered. */
void ukrun_console_write(const char* data, size_t len);
/* Sends buffered console output (from putchar) to the monitor now. */
void ukrun_console_flush(void);
/* Formatted console output; each call reaches the monitor before it returns. */
int ukrun_printf(const char* format, ...) UKRUN_PRINTF_LIKE(1, 2);
int ukrun_vprintf(const char* format, va_list args) UKRUN_PRINTF_LIKE(1, 0);
/* Conversions: d i u x X o p s c %; flags - 0 + space #; width and precision (also *);
 * lengths hh h l ll z j t. Returns the length the full output would have. */
int ukrun_snprintf(char* buffer, size_t size, const char* format, ...) UKRUN_PRINTF_LIKE(3, 4);
int ukrun_vsnprintf(char* buffer, size_t size, const char* format, va_list args)
    UKRUN_PRINTF_LIKE(3, 0);

/* ---- Clocks and waiting ---- */
/* Nanoseconds since boot, from the invariant TSC: cheap, no exit to the monitor. */
uint64_t ukrun_monotonic_ns(void);
/* Nanoseconds since the Unix epoch, from the host (one hypercall). */
uint64_t ukrun_wall_clock_ns(void);
/* Waits until deadline_ns (monotonic), device work or a shutdown request, whichever comes
 * first. Stores the ready-device bitmask in *ready if ready is not NULL and returns the
 * UKRUN_POLL_* events. A deadline in the past only checks. */
uint32_t ukrun_poll(uint64_t deadline_ns, uint64_t* ready);
/* Sleeps ns nanoseconds; returns early only when shutdown was requested. */
void ukrun_sleep_ns(uint64_t ns);
/* Lets the monitor run pending work without waiting. */
void ukrun_yield(void);
/* Whether the monitor has asked this unikernel to stop (seen by any poll so far). */
int ukrun_shutdown_requested(void);

/* ---- Exit ---- */
/* Ends the VM with status (0..UKRUN_EXIT_STATUS_MAX) without running atexit handlers. */
UKRUN_NORETURN void ukrun_exit(int status);
/* Ends the VM as aborted, with a formatted message the monitor reports. */
UKRUN_NORETURN void ukrun_panic(const char* format, ...) UKRUN_PRINTF_LIKE(1, 2);

/* ---- Heap ---- */
/* Bytes of heap currently handed out (including allocator headers). */
size_t ukrun_heap_used(void);

#ifdef __cplusplus
}
#endif

#endif /* UKRUN_UKRUN_H */
