// Command-line parsing with CLI11.
#include "options.hpp"

#include <algorithm>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "container_net.hpp"
#include "errors.hpp"
#include "net_device.hpp"

namespace ukrun {

namespace {

std::string version_text()
{
    return fmt::format("ukrun {} (guest ABI {})", UKRUN_VERSION, UKRUN_ABI_VERSION);
}

// "NAME=VALUE" → {NAME, VALUE}; UsageError naming the option otherwise.
std::pair<std::string, std::string> split_assignment(const std::string& text, std::string_view option)
{
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
        throw UsageError(fmt::format("{} {}: expected NAME=VALUE", option, text));
    return {text.substr(0, eq), text.substr(eq + 1)};
}

BlockSpec* find_block(std::vector<BlockSpec>& blocks, const std::string& name)
{
    for (auto& b : blocks)
        if (b.name == name)
            return &b;
    return nullptr;
}

void parse_block_options(VmConfig& config, const std::vector<std::string>& blocks,
                         const std::vector<std::string>& readonly, const std::vector<std::string>& sector_sizes)
{
    for (const auto& text : blocks) {
        auto [name, path] = split_assignment(text, "--block");
        bool ro = false;
        if (path.size() > 3 && path.ends_with(":ro")) {
            path.resize(path.size() - 3);
            ro = true;
        }
        if (find_block(config.blocks, name) != nullptr)
            throw UsageError(fmt::format("--block {}: device '{}' is given twice", text, name));
        config.blocks.push_back({name, BlockBacking{path, ro, 512}});
    }
    for (const auto& name : readonly) {
        BlockSpec* b = find_block(config.blocks, name);
        if (b == nullptr)
            throw UsageError(fmt::format("--block-readonly {}: no --block {}=PATH was given", name, name));
        b->backing.readonly = true;
    }
    for (const auto& text : sector_sizes) {
        const auto [name, size] = split_assignment(text, "--block-sector-size");
        BlockSpec* b = find_block(config.blocks, name);
        if (b == nullptr)
            throw UsageError(fmt::format("--block-sector-size {}: no --block {}=PATH was given", text, name));
        const uint64_t bytes = parse_size(size, "--block-sector-size");
        if (bytes < 512 || bytes > 65536 || (bytes & (bytes - 1)) != 0)
            throw UsageError(fmt::format("--block-sector-size {}: must be a power of two from 512 to 64K", text));
        b->backing.sector_size = static_cast<uint32_t>(bytes);
    }
}

void parse_net_options(VmConfig& config, const std::vector<std::string>& nets, const std::vector<std::string>& macs)
{
    for (const auto& text : nets) {
        const auto [name, target] = split_assignment(text, "--net");
        for (const auto& n : config.nets)
            if (n.name == name)
                throw UsageError(fmt::format("--net {}: device '{}' is given twice", text, name));
        NetSpec spec{name, {}};
        if (auto interface = parse_container_target(target)) {
            spec.backing.container_interface = std::move(*interface);
        } else if (target[0] == '@') {
            const std::string digits = target.substr(1);
            if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
                throw UsageError(fmt::format("--net {}: expected @FD with a file descriptor number", text));
            spec.backing.fd = std::stoi(digits);
        } else {
            spec.backing.tap_name = target;
        }
        config.nets.push_back(std::move(spec));
    }
    for (const auto& text : macs) {
        const auto [name, value] = split_assignment(text, "--net-mac");
        auto it = std::find_if(config.nets.begin(), config.nets.end(), [&](const NetSpec& n) { return n.name == name; });
        if (it == config.nets.end())
            throw UsageError(fmt::format("--net-mac {}: no --net {}=... was given", text, name));
        if (!it->backing.container_interface.empty())
            throw UsageError(fmt::format("--net-mac {}: net device '{}' takes the container interface's MAC", text,
                                         name));
        it->backing.mac = parse_mac(value);
        if (!it->backing.mac)
            throw UsageError(fmt::format("--net-mac {}: expected a unicast MAC such as 02:00:00:00:00:01", text));
    }
}

// CLI11 knows no positionals here (everything from KERNEL on is passed through untouched),
// so the usage line is spelled out.
class UsageFormatter : public CLI::Formatter {
public:
    std::string make_usage(const CLI::App*, std::string name) const override
    {
        return "Usage: " + name + " [OPTIONS] KERNEL.elf [ARGS...]\n";
    }
};

} // namespace

uint64_t parse_size(std::string_view text, std::string_view option)
{
    uint64_t value = 0;
    std::size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            throw UsageError(fmt::format("{} {}: number too large", option, text));
        value = value * 10 + digit;
    }
    if (i == 0)
        throw UsageError(fmt::format("{} {}: expected a size such as 64M or 1G", option, text));
    unsigned shift = 0;
    const std::string_view suffix = text.substr(i);
    if (suffix == "K" || suffix == "k" || suffix == "KiB")
        shift = 10;
    else if (suffix == "M" || suffix == "m" || suffix == "MiB")
        shift = 20;
    else if (suffix == "G" || suffix == "g" || suffix == "GiB")
        shift = 30;
    else if (!suffix.empty())
        throw UsageError(fmt::format("{} {}: unknown unit '{}' (use K, M or G)", option, text, suffix));
    if (shift != 0 && value > (UINT64_MAX >> shift))
        throw UsageError(fmt::format("{} {}: number too large", option, text));
    return value << shift;
}

ParsedCommandLine parse_command_line(const std::vector<std::string>& args)
{
    CLI::App app{"ukrun: run an x86-64 ELF unikernel on KVM, deprivileged, with only the devices it declares.",
                 "ukrun"};
    app.set_version_flag("--version", version_text());
    app.prefix_command(); // everything after KERNEL belongs to the unikernel
    app.formatter(std::make_shared<UsageFormatter>());
    app.footer("Exit codes: the unikernel's own status (0-111); 112 guest aborted; 113 guest CPU fault;\n"
               "114 guest broke the hypercall/ring ABI; 115 VM failure; 120 usage; 121 bad image;\n"
               "122 bad device; 123 host/KVM error; 128+N stopped by signal N.");

    VmConfig config;
    std::string mem = "64M";
    app.add_option("--mem", mem, "Guest memory, e.g. 64M or 1G (lazily backed; 4M to 4G)")
        ->type_name("SIZE")
        ->capture_default_str();
    app.add_flag("--trace-boot", config.trace_boot, "Print where start-up time goes, phase by phase");
    bool no_sandbox = false;
    app.add_flag("--no-sandbox", no_sandbox, "Do not confine ukrun with seccomp while the guest runs (debugging)");
    app.add_flag("--stats", config.print_stats, "Print exit, hypercall and device request counts at exit");
    std::vector<std::string> blocks, readonly, sector_sizes;
    app.add_option("--block", blocks, "Back block device NAME with a file or block device (append :ro for "
                                      "read-only)")
        ->type_name("NAME=PATH")
        ->allow_extra_args(false); // one value per occurrence; repeat the option for more
    app.add_option("--shutdown-grace", config.shutdown_grace_ms,
                   "Milliseconds the unikernel gets to exit after SIGTERM/SIGINT before ukrun stops it")
        ->type_name("MS")
        ->capture_default_str()
        ->check(CLI::Range(uint64_t{0}, uint64_t{600'000}).description(""));
    std::vector<std::string> nets, macs;
    app.add_option("--net", nets, "Attach net device NAME to a TAP interface (created if absent), to an open TAP "
                                  "fd (@FD), or to the container's interface (container[:IF], default eth0)")
        ->type_name("NAME=TAP|@FD|container[:IF]")
        ->allow_extra_args(false);
    app.add_option("--net-mac", macs, "MAC address of net device NAME (default: stable, locally administered)")
        ->type_name("NAME=MAC")
        ->allow_extra_args(false);
    app.add_option("--block-readonly", readonly, "Attach block device NAME read-only")
        ->type_name("NAME")
        ->allow_extra_args(false);
    app.add_option("--block-sector-size", sector_sizes, "Sector size of block device NAME (default 512)")
        ->type_name("NAME=BYTES")
        ->allow_extra_args(false);

    std::vector<std::string> argv;
    argv.reserve(args.size());
    for (auto it = args.rbegin(); it != args.rend(); ++it)
        argv.push_back(*it); // CLI11 parses a reversed vector
    try {
        app.parse(argv);
    } catch (const CLI::CallForHelp&) {
        return ShowText{app.help()};
    } catch (const CLI::CallForVersion&) {
        return ShowText{version_text() + "\n"};
    } catch (const CLI::ParseError& e) {
        throw UsageError(e.what());
    }

    std::vector<std::string> rest = app.remaining();
    if (!rest.empty() && rest.front() == "--")
        rest.erase(rest.begin());
    if (rest.empty())
        throw UsageError("missing the unikernel: ukrun [options] KERNEL.elf [ARGS...] (see --help)");
    if (rest.front().size() > 1 && rest.front()[0] == '-')
        throw UsageError(fmt::format("unknown option {} (see --help)", rest.front()));
    config.kernel_path = rest.front();
    config.guest_args.assign(rest.begin() + 1, rest.end());

    config.sandbox = !no_sandbox;
    parse_block_options(config, blocks, readonly, sector_sizes);
    parse_net_options(config, nets, macs);
    config.mem_size = parse_size(mem, "--mem");
    if (config.mem_size % (1u << 20) != 0)
        throw UsageError(fmt::format("--mem {}: must be a whole number of MiB", mem));
    if (config.mem_size < (4u << 20) || config.mem_size > layout::kMaxMemSize)
        throw UsageError(fmt::format("--mem {}: must be between 4M and 4G", mem));
    return config;
}

} // namespace ukrun
