// The libc memory, string and number-parsing subset (built with -fno-builtin so loops stay loops).

#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

namespace {

// Word-at-a-time copies when both pointers share alignment; the compiler emits these
// functions for struct copies, so they are on hot paths.
typedef uint64_t __attribute__((may_alias)) Word;

// Forward copy without restrict, so memmove may use it for overlapping ranges with dest below src.
void copy_forward(unsigned char* d, const unsigned char* s, size_t n)
{
    if (((reinterpret_cast<uintptr_t>(d) ^ reinterpret_cast<uintptr_t>(s)) & (sizeof(Word) - 1)) == 0) {
        while (n > 0 && (reinterpret_cast<uintptr_t>(d) & (sizeof(Word) - 1)) != 0) {
            *d++ = *s++;
            --n;
        }
        for (; n >= sizeof(Word); n -= sizeof(Word), d += sizeof(Word), s += sizeof(Word))
            *reinterpret_cast<Word*>(d) = *reinterpret_cast<const Word*>(s);
    }
    while (n-- > 0)
        *d++ = *s++;
}

template <typename Integer>
Integer parse_unsigned(const char* s, char** end, int base, bool& negative, bool& overflow)
{
    const char* p = s;
    while (isspace(static_cast<unsigned char>(*p)))
        ++p;
    negative = false;
    overflow = false;
    if (*p == '+' || *p == '-') {
        negative = *p == '-';
        ++p;
    }
    if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
        isxdigit(static_cast<unsigned char>(p[2]))) {
        p += 2;
        base = 16;
    } else if (base == 0) {
        base = p[0] == '0' ? 8 : 10;
    }
    Integer value = 0;
    const char* digits_start = p;
    if (base >= 2 && base <= 36) {
        for (;; ++p) {
            int digit;
            if (*p >= '0' && *p <= '9')
                digit = *p - '0';
            else if (*p >= 'a' && *p <= 'z')
                digit = *p - 'a' + 10;
            else if (*p >= 'A' && *p <= 'Z')
                digit = *p - 'A' + 10;
            else
                break;
            if (digit >= base)
                break;
            const auto b = static_cast<Integer>(base);
            const auto d = static_cast<Integer>(digit);
            if (value > (static_cast<Integer>(~Integer{0}) - d) / b)
                overflow = true;
            else
                value = value * b + d;
        }
    }
    if (end != nullptr)
        *end = const_cast<char*>(p == digits_start ? s : p);
    return value;
}

template <typename Unsigned>
Unsigned to_unsigned(const char* s, char** end, int base)
{
    bool negative;
    bool overflow;
    const Unsigned value = parse_unsigned<Unsigned>(s, end, base, negative, overflow);
    if (overflow)
        return static_cast<Unsigned>(~Unsigned{0});
    return negative ? static_cast<Unsigned>(Unsigned{0} - value) : value;
}

template <typename Signed, typename Unsigned>
Signed to_signed(const char* s, char** end, int base, Signed min, Signed max)
{
    bool negative;
    bool overflow;
    const Unsigned value = parse_unsigned<Unsigned>(s, end, base, negative, overflow);
    if (negative) {
        if (overflow || value > static_cast<Unsigned>(max) + 1)
            return min;
        return value == static_cast<Unsigned>(max) + 1 ? min : -static_cast<Signed>(value);
    }
    if (overflow || value > static_cast<Unsigned>(max))
        return max;
    return static_cast<Signed>(value);
}

} // namespace

extern "C" {

void* memcpy(void* __restrict dest, const void* __restrict src, size_t n)
{
    copy_forward(static_cast<unsigned char*>(dest), static_cast<const unsigned char*>(src), n);
    return dest;
}

void* memmove(void* dest, const void* src, size_t n)
{
    auto* d = static_cast<unsigned char*>(dest);
    const auto* s = static_cast<const unsigned char*>(src);
    if (d == s || n == 0)
        return dest;
    if (d < s || d >= s + n) {
        copy_forward(d, s, n);
        return dest;
    }
    while (n-- > 0)
        d[n] = s[n];
    return dest;
}

void* memset(void* dest, int c, size_t n)
{
    auto* d = static_cast<unsigned char*>(dest);
    const auto byte = static_cast<unsigned char>(c);
    while (n > 0 && (reinterpret_cast<uintptr_t>(d) & (sizeof(Word) - 1)) != 0) {
        *d++ = byte;
        --n;
    }
    const Word pattern = Word{byte} * 0x0101010101010101ull;
    for (; n >= sizeof(Word); n -= sizeof(Word), d += sizeof(Word))
        *reinterpret_cast<Word*>(d) = pattern;
    while (n-- > 0)
        *d++ = byte;
    return dest;
}

int memcmp(const void* a, const void* b, size_t n)
{
    const auto* x = static_cast<const unsigned char*>(a);
    const auto* y = static_cast<const unsigned char*>(b);
    for (size_t i = 0; i < n; ++i) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

void* memchr(const void* s, int c, size_t n)
{
    const auto* p = static_cast<const unsigned char*>(s);
    const auto byte = static_cast<unsigned char>(c);
    for (size_t i = 0; i < n; ++i) {
        if (p[i] == byte)
            return const_cast<unsigned char*>(p + i);
    }
    return nullptr;
}

size_t strlen(const char* s)
{
    const char* p = s;
    while (*p != '\0')
        ++p;
    return static_cast<size_t>(p - s);
}

size_t strnlen(const char* s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n] != '\0')
        ++n;
    return n;
}

int strcmp(const char* a, const char* b)
{
    while (*a != '\0' && *a == *b) {
        ++a;
        ++b;
    }
    return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}

int strncmp(const char* a, const char* b, size_t n)
{
    for (; n > 0; --n, ++a, ++b) {
        if (*a != *b || *a == '\0')
            return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
    }
    return 0;
}

char* strchr(const char* s, int c)
{
    const auto wanted = static_cast<char>(c);
    for (;; ++s) {
        if (*s == wanted)
            return const_cast<char*>(s);
        if (*s == '\0')
            return nullptr;
    }
}

char* strrchr(const char* s, int c)
{
    const auto wanted = static_cast<char>(c);
    const char* found = nullptr;
    for (;; ++s) {
        if (*s == wanted)
            found = s;
        if (*s == '\0')
            return const_cast<char*>(found);
    }
}

char* strcpy(char* __restrict dest, const char* __restrict src)
{
    char* d = dest;
    while ((*d++ = *src++) != '\0') {
    }
    return dest;
}

char* strncpy(char* __restrict dest, const char* __restrict src, size_t n)
{
    size_t i = 0;
    for (; i < n && src[i] != '\0'; ++i)
        dest[i] = src[i];
    for (; i < n; ++i)
        dest[i] = '\0';
    return dest;
}

char* strstr(const char* haystack, const char* needle)
{
    const size_t needle_len = strlen(needle);
    if (needle_len == 0)
        return const_cast<char*>(haystack);
    for (; *haystack != '\0'; ++haystack) {
        if (*haystack == *needle && strncmp(haystack, needle, needle_len) == 0)
            return const_cast<char*>(haystack);
    }
    return nullptr;
}

unsigned long strtoul(const char* __restrict s, char** __restrict end, int base)
{
    return to_unsigned<unsigned long>(s, end, base);
}

unsigned long long strtoull(const char* __restrict s, char** __restrict end, int base)
{
    return to_unsigned<unsigned long long>(s, end, base);
}

long strtol(const char* __restrict s, char** __restrict end, int base)
{
    return to_signed<long, unsigned long>(s, end, base, LONG_MIN, LONG_MAX);
}

long long strtoll(const char* __restrict s, char** __restrict end, int base)
{
    return to_signed<long long, unsigned long long>(s, end, base, LLONG_MIN, LLONG_MAX);
}

int atoi(const char* s)
{
    return static_cast<int>(strtol(s, nullptr, 10));
}

long atol(const char* s)
{
    return strtol(s, nullptr, 10);
}

int abs(int value)
{
    return value < 0 ? -value : value;
}

long labs(long value)
{
    return value < 0 ? -value : value;
}

long long llabs(long long value)
{
    return value < 0 ? -value : value;
}

} // extern "C"
