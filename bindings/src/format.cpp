// The printf engine (integers, strings, characters, pointers) and the snprintf family built on it.

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <ukrun/ukrun.h>

#include "internal.hpp"

namespace {

struct Spec {
    bool left = false;     // '-'
    bool zero = false;     // '0'
    bool plus = false;     // '+'
    bool space = false;    // ' '
    bool alternate = false; // '#'
    int width = 0;
    int precision = -1; // -1: none given
};

enum class Length { Int, Char, Short, Long, LongLong, Size, Max, PtrDiff };

class Writer {
public:
    explicit Writer(ukrun::FormatSink& sink) : sink_(sink) {}

    void write(const char* data, size_t len)
    {
        if (len == 0)
            return;
        sink_.write(&sink_, data, len);
        count_ += len;
    }

    void repeat(char c, size_t times)
    {
        char chunk[32];
        memset(chunk, c, sizeof(chunk));
        while (times > 0) {
            const size_t n = times < sizeof(chunk) ? times : sizeof(chunk);
            write(chunk, n);
            times -= n;
        }
    }

    int count() const { return count_ > INT_MAX ? INT_MAX : static_cast<int>(count_); }

private:
    ukrun::FormatSink& sink_;
    size_t count_ = 0;
};

size_t to_size(int value)
{
    return value < 0 ? 0 : static_cast<size_t>(value);
}

// Writes [prefix][zeros][digits] within the field width, honouring '-' and '0'.
void emit_number(Writer& out, const Spec& spec, const char* prefix, const char* digits, size_t digit_count)
{
    const size_t prefix_len = strlen(prefix);
    size_t zeros = 0;
    if (spec.precision >= 0 && to_size(spec.precision) > digit_count)
        zeros = to_size(spec.precision) - digit_count;
    const size_t body = prefix_len + zeros + digit_count;
    const size_t width = to_size(spec.width);
    size_t padding = width > body ? width - body : 0;
    // '0' is ignored with '-' and, for integers, when a precision is given.
    if (spec.zero && !spec.left && spec.precision < 0) {
        zeros += padding;
        padding = 0;
    }
    if (!spec.left)
        out.repeat(' ', padding);
    out.write(prefix, prefix_len);
    out.repeat('0', zeros);
    out.write(digits, digit_count);
    if (spec.left)
        out.repeat(' ', padding);
}

void format_unsigned(Writer& out, Spec spec, uintmax_t value, unsigned base, bool upper,
                     const char* sign_prefix)
{
    const char* alphabet = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char digits[3 * sizeof(uintmax_t)];
    size_t count = 0;
    // Precision 0 with value 0 prints no digits at all.
    if (!(value == 0 && spec.precision == 0)) {
        char* end = digits + sizeof(digits);
        char* p = end;
        do {
            *--p = alphabet[value % base];
            value /= base;
        } while (value != 0);
        count = static_cast<size_t>(end - p);
        memmove(digits, p, count);
    }
    const char* prefix = sign_prefix;
    if (spec.alternate && base == 16 && count > 0 && !(count == 1 && digits[0] == '0'))
        prefix = upper ? "0X" : "0x";
    if (spec.alternate && base == 8 && (count == 0 || digits[0] != '0')) {
        // '#' with octal guarantees a leading zero, by raising the precision if needed.
        if (spec.precision < 0 || to_size(spec.precision) <= count)
            spec.precision = static_cast<int>(count + 1);
    }
    emit_number(out, spec, prefix, digits, count);
}

void format_string(Writer& out, const Spec& spec, const char* s)
{
    if (s == nullptr)
        s = "(null)";
    const size_t len = spec.precision >= 0 ? strnlen(s, to_size(spec.precision)) : strlen(s);
    const size_t width = to_size(spec.width);
    const size_t padding = width > len ? width - len : 0;
    if (!spec.left)
        out.repeat(' ', padding);
    out.write(s, len);
    if (spec.left)
        out.repeat(' ', padding);
}

uintmax_t read_unsigned(Length length, va_list& args)
{
    switch (length) {
    case Length::Char: return static_cast<unsigned char>(va_arg(args, unsigned int));
    case Length::Short: return static_cast<unsigned short>(va_arg(args, unsigned int));
    case Length::Long: return va_arg(args, unsigned long);
    case Length::LongLong: return va_arg(args, unsigned long long);
    case Length::Size: return va_arg(args, size_t);
    case Length::Max: return va_arg(args, uintmax_t);
    case Length::PtrDiff: return static_cast<uintmax_t>(va_arg(args, ptrdiff_t));
    case Length::Int: break;
    }
    return va_arg(args, unsigned int);
}

intmax_t read_signed(Length length, va_list& args)
{
    switch (length) {
    case Length::Char: return static_cast<signed char>(va_arg(args, int));
    case Length::Short: return static_cast<short>(va_arg(args, int));
    case Length::Long: return va_arg(args, long);
    case Length::LongLong: return va_arg(args, long long);
    case Length::Size: return static_cast<intmax_t>(va_arg(args, size_t));
    case Length::Max: return va_arg(args, intmax_t);
    case Length::PtrDiff: return va_arg(args, ptrdiff_t);
    case Length::Int: break;
    }
    return va_arg(args, int);
}

// Parses a decimal number or '*' (taken from the arguments).
int read_count(const char*& p, va_list& args, bool& from_argument)
{
    from_argument = false;
    if (*p == '*') {
        ++p;
        from_argument = true;
        return va_arg(args, int);
    }
    int value = 0;
    while (*p >= '0' && *p <= '9') {
        const int digit = *p++ - '0';
        value = value > (INT_MAX - digit) / 10 ? INT_MAX : value * 10 + digit;
    }
    return value;
}

struct BufferSink : ukrun::FormatSink {
    char* buffer;
    size_t capacity; // bytes available for characters, the NUL excluded
    size_t used = 0;

    BufferSink(char* out, size_t size)
        : FormatSink{&BufferSink::append}, buffer(out), capacity(size > 0 ? size - 1 : 0)
    {
    }

    static void append(FormatSink* self, const char* data, size_t len)
    {
        auto* sink = static_cast<BufferSink*>(self);
        const size_t room = sink->capacity - sink->used;
        const size_t n = len < room ? len : room;
        memcpy(sink->buffer + sink->used, data, n);
        sink->used += n;
    }
};

} // namespace

namespace ukrun {

int format(FormatSink& sink, const char* format, va_list args_in)
{
    Writer out(sink);
    va_list args;
    va_copy(args, args_in);
    const char* p = format;
    while (*p != '\0') {
        const char* literal = p;
        while (*p != '\0' && *p != '%')
            ++p;
        out.write(literal, static_cast<size_t>(p - literal));
        if (*p == '\0')
            break;
        const char* directive = p++;

        Spec spec;
        for (;; ++p) {
            if (*p == '-') spec.left = true;
            else if (*p == '0') spec.zero = true;
            else if (*p == '+') spec.plus = true;
            else if (*p == ' ') spec.space = true;
            else if (*p == '#') spec.alternate = true;
            else break;
        }
        bool from_argument = false;
        spec.width = read_count(p, args, from_argument);
        if (from_argument && spec.width < 0) {
            // A negative '*' width means left-justify.
            spec.left = true;
            spec.width = spec.width == INT_MIN ? INT_MAX : -spec.width;
        }
        if (*p == '.') {
            ++p;
            spec.precision = read_count(p, args, from_argument);
            if (spec.precision < 0)
                spec.precision = -1;
        }

        Length length = Length::Int;
        switch (*p) {
        case 'h':
            ++p;
            length = Length::Short;
            if (*p == 'h') { ++p; length = Length::Char; }
            break;
        case 'l':
            ++p;
            length = Length::Long;
            if (*p == 'l') { ++p; length = Length::LongLong; }
            break;
        case 'z': ++p; length = Length::Size; break;
        case 'j': ++p; length = Length::Max; break;
        case 't': ++p; length = Length::PtrDiff; break;
        default: break;
        }

        const char conversion = *p;
        if (conversion == '\0') {
            // A truncated directive is printed as written.
            out.write(directive, static_cast<size_t>(p - directive));
            break;
        }
        ++p;
        switch (conversion) {
        case 'd':
        case 'i': {
            const intmax_t value = read_signed(length, args);
            const uintmax_t magnitude = value < 0 ? uintmax_t{0} - static_cast<uintmax_t>(value)
                                                  : static_cast<uintmax_t>(value);
            const char* sign = value < 0 ? "-" : spec.plus ? "+" : spec.space ? " " : "";
            spec.alternate = false;
            format_unsigned(out, spec, magnitude, 10, false, sign);
            break;
        }
        case 'u': format_unsigned(out, spec, read_unsigned(length, args), 10, false, ""); break;
        case 'o': format_unsigned(out, spec, read_unsigned(length, args), 8, false, ""); break;
        case 'x': format_unsigned(out, spec, read_unsigned(length, args), 16, false, ""); break;
        case 'X': format_unsigned(out, spec, read_unsigned(length, args), 16, true, ""); break;
        case 'p': {
            // Always "0x", even for null, so pointers read as pointers.
            const auto value = reinterpret_cast<uintptr_t>(va_arg(args, void*));
            spec.alternate = false;
            format_unsigned(out, spec, value, 16, false, "0x");
            break;
        }
        case 's': format_string(out, spec, va_arg(args, const char*)); break;
        case 'c': {
            const char c[2] = {static_cast<char>(va_arg(args, int)), '\0'};
            Spec char_spec = spec;
            char_spec.precision = 1;
            // Through format_string for the padding; a NUL character still counts as one.
            if (c[0] == '\0') {
                const size_t width = to_size(spec.width);
                const size_t padding = width > 1 ? width - 1 : 0;
                if (!spec.left)
                    out.repeat(' ', padding);
                out.write(c, 1);
                if (spec.left)
                    out.repeat(' ', padding);
            } else {
                format_string(out, char_spec, c);
            }
            break;
        }
        case '%': out.write("%", 1); break;
        default:
            // Unknown conversions (including floating point) are printed as written.
            out.write(directive, static_cast<size_t>(p - directive));
            break;
        }
    }
    va_end(args);
    return out.count();
}

} // namespace ukrun

extern "C" {

int ukrun_vsnprintf(char* buffer, size_t size, const char* format, va_list args)
{
    BufferSink sink(buffer, size);
    const int len = ukrun::format(sink, format, args);
    if (size > 0)
        buffer[sink.used] = '\0';
    return len;
}

int ukrun_snprintf(char* buffer, size_t size, const char* format, ...)
{
    va_list args;
    va_start(args, format);
    const int len = ukrun_vsnprintf(buffer, size, format, args);
    va_end(args);
    return len;
}

int vsnprintf(char* buffer, size_t size, const char* format, va_list args)
{
    return ukrun_vsnprintf(buffer, size, format, args);
}

int snprintf(char* buffer, size_t size, const char* format, ...)
{
    va_list args;
    va_start(args, format);
    const int len = ukrun_vsnprintf(buffer, size, format, args);
    va_end(args);
    return len;
}

int vsprintf(char* buffer, const char* format, va_list args)
{
    return ukrun_vsnprintf(buffer, SIZE_MAX, format, args);
}

int sprintf(char* buffer, const char* format, ...)
{
    va_list args;
    va_start(args, format);
    const int len = ukrun_vsnprintf(buffer, SIZE_MAX, format, args);
    va_end(args);
    return len;
}

} // extern "C"
