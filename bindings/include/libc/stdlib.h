/* ukrun libc subset: heap, exit, number parsing. */
#ifndef UKRUN_LIBC_STDLIB_H
#define UKRUN_LIBC_STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

#ifdef __cplusplus
extern "C" {
#define UKRUN_LIBC_NORETURN [[noreturn]]
#else
#define UKRUN_LIBC_NORETURN _Noreturn
#endif

void* malloc(size_t size);
void free(void* ptr);
void* calloc(size_t count, size_t size);
void* realloc(void* ptr, size_t size);
void* aligned_alloc(size_t alignment, size_t size);
int posix_memalign(void** result, size_t alignment, size_t size);

/* exit() runs atexit handlers and destructors first; _Exit() does not. */
UKRUN_LIBC_NORETURN void exit(int status);
UKRUN_LIBC_NORETURN void _Exit(int status);
UKRUN_LIBC_NORETURN void abort(void);
int atexit(void (*function)(void));

long strtol(const char* __restrict s, char** __restrict end, int base);
unsigned long strtoul(const char* __restrict s, char** __restrict end, int base);
long long strtoll(const char* __restrict s, char** __restrict end, int base);
unsigned long long strtoull(const char* __restrict s, char** __restrict end, int base);
int atoi(const char* s);
long atol(const char* s);
int abs(int value);
long labs(long value);
long long llabs(long long value);

#undef UKRUN_LIBC_NORETURN

#ifdef __cplusplus
}
#endif

#endif /* UKRUN_LIBC_STDLIB_H */
