// One unikernel run: the boot sequence top to bottom, then the vCPU loop.
#pragma once

#include <string>

#include "vm_config.hpp"

namespace ukrun {

// How a run ended: the process exit code and, unless the guest exited by itself, a
// one-line diagnosis for stderr.
struct VmOutcome {
    int exit_code = 0;
    std::string diagnosis;
};

// Boots the unikernel and runs it to the end. Host and image problems before the guest
// starts are thrown as Error (with their exit code); everything the guest does is
// reported in the outcome.
VmOutcome run_unikernel(const VmConfig& config);

} // namespace ukrun
