// Command-line parsing: argv in, a VmConfig (or help/version text) out, no side effects.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vm_config.hpp"

namespace ukrun {

struct ShowText {
    std::string text; // --help or --version output, for stdout
};
using ParsedCommandLine = std::variant<VmConfig, ShowText>;

// Throws UsageError with a one-line message for anything malformed.
ParsedCommandLine parse_command_line(const std::vector<std::string>& args);

// "64M", "1G", "2048K", "1073741824": a byte count. Throws UsageError.
uint64_t parse_size(std::string_view text, std::string_view option);

} // namespace ukrun
