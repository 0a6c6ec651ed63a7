/* ukrun libc subset: formatted output to the console (there are no files). */
#ifndef UKRUN_LIBC_STDIO_H
#define UKRUN_LIBC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

#ifdef __cplusplus
extern "C" {
#endif

int printf(const char* __restrict format, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char* __restrict format, va_list args) __attribute__((format(printf, 1, 0)));
int snprintf(char* __restrict buffer, size_t size, const char* __restrict format, ...)
    __attribute__((format(printf, 3, 4)));
int vsnprintf(char* __restrict buffer, size_t size, const char* __restrict format, va_list args)
    __attribute__((format(printf, 3, 0)));
int sprintf(char* __restrict buffer, const char* __restrict format, ...)
    __attribute__((format(printf, 2, 3)));
int vsprintf(char* __restrict buffer, const char* __restrict format, va_list args)
    __attribute__((format(printf, 2, 0)));
int puts(const char* s);
int putchar(int c);

#ifdef __cplusplus
}
#endif

#endif /* UKRUN_LIBC_STDIO_H */
