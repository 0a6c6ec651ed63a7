// ukrun: parse the command line, run the unikernel, map the outcome to an exit code.
#include <signal.h>

#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "container_net.hpp"
#include "errors.hpp"
#include "options.hpp"
#include "vm.hpp"

int main(int argc, char** argv)
{
    using namespace ukrun;
    ::signal(SIGPIPE, SIG_IGN); // a closed console must not kill the monitor
    try {
        const ParsedCommandLine parsed = parse_command_line({argv + 1, argv + argc});
        if (const auto* text = std::get_if<ShowText>(&parsed)) {
            std::fputs(text->text.c_str(), stdout);
            return 0;
        }
        VmConfig config = std::get<VmConfig>(parsed);
        // A container's interface belongs to the unikernel while it runs and is handed back after.
        const auto container_links = adopt_container_interfaces(config);
        const VmOutcome outcome = run_unikernel(config);
        std::fflush(stdout);
        if (!outcome.diagnosis.empty())
            fmt::print(stderr, "ukrun: {}\n", outcome.diagnosis);
        return outcome.exit_code;
    } catch (const Error& e) {
        fmt::print(stderr, "ukrun: {}\n", e.what());
        return static_cast<int>(e.code());
    } catch (const std::exception& e) {
        fmt::print(stderr, "ukrun: internal error: {}\n", e.what());
        return UKRUN_EXIT_HOST_ERROR;
    }
}
