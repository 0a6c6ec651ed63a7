// Static addressing from the unikernel command line: "ip=10.0.0.2/24 gw=10.0.0.1".
#include <string.h>

#include <ukrun/net.h>

namespace ukrun::net {
namespace {

// [begin, end) as a decimal number up to max; always decimal (inet_aton would read 010 as octal).
bool parse_number(const char* begin, const char* end, uint32_t max, uint32_t& out)
{
    if (begin == end || end - begin > 3)
        return false;
    uint32_t value = 0;
    for (const char* c = begin; c != end; ++c) {
        if (*c < '0' || *c > '9')
            return false;
        value = value * 10 + static_cast<uint32_t>(*c - '0');
    }
    if (value > max)
        return false;
    out = value;
    return true;
}

bool parse_ipv4_range(const char* begin, const char* end, Ipv4Address& out)
{
    Ipv4Address address = 0;
    for (int part = 0; part < 4; ++part) {
        const char* dot = begin;
        while (dot != end && *dot != '.')
            ++dot;
        if ((part < 3) != (dot != end))
            return false;
        uint32_t octet = 0;
        if (!parse_number(begin, dot, 255, octet))
            return false;
        address = (address << 8) | octet;
        begin = dot == end ? end : dot + 1;
    }
    out = address;
    return true;
}

struct ConfigParser {
    Ipv4Config config;
    bool have_ip = false;
    bool ok = true;

    void token(const char* begin, const char* end)
    {
        const size_t len = static_cast<size_t>(end - begin);
        if (len > 3 && memcmp(begin, "ip=", 3) == 0) {
            const char* slash = begin + 3;
            while (slash != end && *slash != '/')
                ++slash;
            uint32_t prefix = 0;
            ok = ok && slash != end && parse_ipv4_range(begin + 3, slash, config.address) &&
                 parse_number(slash + 1, end, 32, prefix) && prefix >= 1;
            config.prefix_length = static_cast<uint8_t>(prefix);
            have_ip = true;
        } else if (len > 3 && memcmp(begin, "gw=", 3) == 0) {
            ok = ok && parse_ipv4_range(begin + 3, end, config.gateway);
        }
    }

    void text(const char* s)
    {
        while (*s != '\0') {
            while (*s == ' ' || *s == '\t')
                ++s;
            const char* begin = s;
            while (*s != '\0' && *s != ' ' && *s != '\t')
                ++s;
            if (s != begin)
                token(begin, s);
        }
    }

    bool finish(Ipv4Config& out) const
    {
        if (!ok || !have_ip || config.address == 0)
            return false;
        const uint32_t mask = config.prefix_length == 32 ? 0xffffffffu : ~(0xffffffffu >> config.prefix_length);
        if (config.prefix_length < 31 && (config.address | mask) == 0xffffffffu)
            return false;
        out = config;
        return true;
    }
};

} // namespace

bool parse_ipv4(const char* text, Ipv4Address& out)
{
    return text != nullptr && parse_ipv4_range(text, text + strlen(text), out);
}

bool parse_ipv4_config(int argc, const char* const* argv, Ipv4Config& out)
{
    ConfigParser parser;
    for (int i = 0; i < argc; ++i)
        if (argv != nullptr && argv[i] != nullptr)
            parser.text(argv[i]);
    return parser.finish(out);
}

bool parse_ipv4_config(const char* text, Ipv4Config& out)
{
    ConfigParser parser;
    if (text != nullptr)
        parser.text(text);
    return parser.finish(out);
}

} // namespace ukrun::net
