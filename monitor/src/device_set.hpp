// The devices of one VM: the manifest matched against the command line, queues placed in guest memory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ukrun/abi.h>

#include "device.hpp"
#include "elf_image.hpp"
#include "guest_memory.hpp"
#include "vm_config.hpp"

namespace ukrun {

class DeviceSet {
public:
    // Opens the backing of every device the manifest declares. DeviceError when a declared
    // device has no backing, a backing names no declared device, or a type differs.
    DeviceSet(const std::vector<ManifestDevice>& manifest, const VmConfig& config);

    // Guest memory the queues need (page aligned), placed between the image and the heap.
    uint64_t ring_bytes() const;

    // Places every queue from `rings_start`, hands them to the devices and fills the boot
    // info device table.
    void attach(const GuestMemory& memory, uint64_t rings_start, ukrun_boot_info& info);

    std::size_t size() const noexcept { return devices_.size(); }
    Device& operator[](std::size_t index) { return *devices_[index]; }
    const Device& operator[](std::size_t index) const { return *devices_[index]; }

private:
    std::vector<std::unique_ptr<Device>> devices_;
};

const char* device_type_name(uint32_t type);

} // namespace ukrun
