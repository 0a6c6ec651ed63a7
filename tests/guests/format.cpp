// Checks the printf engine against known outputs for every conversion, flag and length.

#include <stdint.h>
#include <stdio.h>
#include <string.h>

namespace {

int failures;

void expect(const char* expected, int length, const char* actual)
{
    if (strcmp(expected, actual) != 0 || length != static_cast<int>(strlen(expected))) {
        printf("format: FAIL expected \"%s\" got \"%s\" (length %d)\n", expected, actual, length);
        ++failures;
    }
}

#define CHECK(expected, ...)                                      \
    do {                                                          \
        char buffer[128];                                         \
        const int n = snprintf(buffer, sizeof(buffer), __VA_ARGS__); \
        expect(expected, n, buffer);                              \
    } while (0)

} // namespace

int main()
{
    printf("format: checking snprintf conversions\n");
    CHECK("42 -42 0", "%d %i %d", 42, -42, 0);
    CHECK("-2147483648", "%d", INT32_MIN);
    CHECK("-9223372036854775808", "%lld", static_cast<long long>(INT64_MIN));
    CHECK("18446744073709551615", "%llu", static_cast<unsigned long long>(UINT64_MAX));
    CHECK("ff FF 0xff 0XFF 17 017", "%x %X %#x %#X %o %#o", 255u, 255u, 255u, 255u, 15u, 15u);
    CHECK("0 0", "%#x %#o", 0u, 0u);
    CHECK("[   42] [42   ] [00042] [+42] [ 42]", "[%5d] [%-5d] [%05d] [%+d] [% d]", 42, 42, 42, 42, 42);
    CHECK("[  -42] [-0042] [  042]", "[%5d] [%05d] [%5.3d]", -42, -42, 42);
    CHECK("[] [ 5]", "[%.0d] [%2.0d]", 0, 5);
    CHECK("hello [  abc] [abc  ] [ab]", "hello [%5s] [%-5s] [%.2s]", "abc", "abc", "abc");
    CHECK("(null)", "%s", static_cast<const char*>(nullptr));
    CHECK("x [    y] 100%", "%c [%5c] 100%%", 'x', 'y');
    CHECK("[   7] [7   ]", "[%*d] [%*d]", 4, 7, -4, 7);
    CHECK("[007]", "[%.*d]", 3, 7);
    CHECK("-1 255 65535 -1", "%hhd %hhu %hu %hd", -1, 255, 65535, 65535);
    CHECK("123 -5 456 77", "%zu %td %ju %ld", static_cast<size_t>(123), static_cast<ptrdiff_t>(-5),
          static_cast<uintmax_t>(456), 77L);
    CHECK("0x1000 0x0", "%p %p", reinterpret_cast<void*>(0x1000), static_cast<void*>(nullptr));
    CHECK("%f", "%f", 1.0);

    // Truncation: the return value is the untruncated length and the buffer ends in NUL.
    char small[4];
    const int n = snprintf(small, sizeof(small), "%s", "abcdef");
    if (n != 6 || strcmp(small, "abc") != 0) {
        printf("format: FAIL truncation gave \"%s\" (%d)\n", small, n);
        ++failures;
    }
    if (snprintf(nullptr, 0, "%d", 12345) != 5) {
        printf("format: FAIL size query\n");
        ++failures;
    }
    if (failures != 0)
        return 1;
    printf("format: ok\n");
    return 0;
}
