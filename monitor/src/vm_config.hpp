// Everything the command line decides about one unikernel run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "block_device.hpp"
#include "guest_layout.hpp"
#include "net_device.hpp"

namespace ukrun {

struct BlockSpec {
    std::string name;
    BlockBacking backing;
};

struct NetSpec {
    std::string name;
    NetBacking backing;
};

struct VmConfig {
    std::string kernel_path;
    std::vector<std::string> guest_args; // argv[1..] for the unikernel
    uint64_t mem_size = layout::kDefaultMemSize;
    bool trace_boot = false;
    bool print_stats = false;
    bool sandbox = true; // seccomp allow-list around the run loop
    int console_fd = 1;
    uint64_t shutdown_grace_ms = 3000; // after SIGTERM/SIGINT, before ukrun stops the guest
    std::vector<BlockSpec> blocks;
    std::vector<NetSpec> nets;
};

} // namespace ukrun
