// Everything the command line decides about one unikernel run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "block_device.hpp"
#include "guest_layout.hpp"

namespace ukrun {

struct BlockSpec {
    std::string name;
    BlockBacking backing;
};

struct VmConfig {
    std::string kernel_path;
    std::vector<std::string> guest_args; // argv[1..] for the unikernel
    uint64_t mem_size = layout::kDefaultMemSize;
    bool trace_boot = false;
    bool print_stats = false;
    int console_fd = 1;
    std::vector<BlockSpec> blocks;
};

} // namespace ukrun
