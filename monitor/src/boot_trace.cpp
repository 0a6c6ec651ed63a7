// Formatting of the boot trace.
#include "boot_trace.hpp"

#include <fmt/format.h>

namespace ukrun {

std::string BootTrace::summary() const
{
    std::string line = "boot trace:";
    for (const auto& phase : phases_)
        line += fmt::format(" {} {:.1f}us,", phase.name, static_cast<double>(phase.ns) / 1e3);
    line += fmt::format(" total {:.1f}us", static_cast<double>(last_ - start_) / 1e3);
    return line;
}

} // namespace ukrun
