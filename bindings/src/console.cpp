// Console output: a guest-side buffer so that a printf costs one exit to the monitor, not one per byte.

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <ukrun/ukrun.h>

#include "hypercall.hpp"
#include "internal.hpp"

namespace {

constexpr size_t buffer_size = 4096;
char buffer[buffer_size];
size_t buffered;

void write_to_monitor(const char* data, size_t len)
{
    while (len > 0) {
        const size_t chunk = len < UKRUN_CONSOLE_WRITE_MAX ? len : UKRUN_CONSOLE_WRITE_MAX;
        ukrun_hc_console_write request{reinterpret_cast<uintptr_t>(data), chunk};
        ukrun::hypercall(UKRUN_HC_CONSOLE_WRITE, &request);
        data += chunk;
        len -= chunk;
    }
}

void append(const char* data, size_t len)
{
    if (len >= buffer_size) {
        ukrun_console_flush();
        write_to_monitor(data, len);
        return;
    }
    if (len > buffer_size - buffered)
        ukrun_console_flush();
    memcpy(buffer + buffered, data, len);
    buffered += len;
}

struct ConsoleSink : ukrun::FormatSink {
    ConsoleSink() : FormatSink{[](FormatSink*, const char* data, size_t len) { append(data, len); }} {}
};

} // namespace

extern "C" {

void ukrun_console_flush(void)
{
    if (buffered == 0)
        return;
    write_to_monitor(buffer, buffered);
    buffered = 0;
}

void ukrun_console_write(const char* data, size_t len)
{
    ukrun_console_flush();
    write_to_monitor(data, len);
}

int ukrun_vprintf(const char* format, va_list args)
{
    ConsoleSink sink;
    const int len = ukrun::format(sink, format, args);
    ukrun_console_flush();
    return len;
}

int ukrun_printf(const char* format, ...)
{
    va_list args;
    va_start(args, format);
    const int len = ukrun_vprintf(format, args);
    va_end(args);
    return len;
}

int vprintf(const char* format, va_list args)
{
    return ukrun_vprintf(format, args);
}

int printf(const char* format, ...)
{
    va_list args;
    va_start(args, format);
    const int len = ukrun_vprintf(format, args);
    va_end(args);
    return len;
}

int puts(const char* s)
{
    append(s, strlen(s));
    append("\n", 1);
    ukrun_console_flush();
    return 0;
}

// Byte-wise output is buffered until a newline, so a loop of putchar stays cheap.
int putchar(int c)
{
    const char byte = static_cast<char>(c);
    append(&byte, 1);
    if (byte == '\n')
        ukrun_console_flush();
    return static_cast<unsigned char>(byte);
}

} // extern "C"
