// Least privilege: attach exactly the devices the unikernel declares, each with its queues.
#include "device_set.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "align.hpp"
#include "block_device.hpp"
#include "net_device.hpp"
#include "errors.hpp"
#include "guest_layout.hpp"

namespace ukrun {

namespace {

// One queue: descriptor table at a page boundary, available ring behind it, used ring
// 4-byte aligned behind that; the next queue starts on a fresh page.
struct QueuePlacement {
    uint64_t desc, avail, used, end;
};
QueuePlacement place_queue(uint64_t base, uint16_t size)
{
    QueuePlacement p;
    p.desc = base;
    p.avail = p.desc + desc_table_bytes(size);
    p.used = align_up(p.avail + avail_ring_bytes(size), 4);
    p.end = align_up(p.used + used_ring_bytes(size), layout::kPageSize);
    return p;
}

} // namespace

const char* device_type_name(uint32_t type)
{
    switch (type) {
    case UKRUN_DEVICE_BLOCK: return "block";
    case UKRUN_DEVICE_NET: return "net";
    default: return "unknown";
    }
}

DeviceSet::DeviceSet(const std::vector<ManifestDevice>& manifest, const VmConfig& config)
{
    auto declared = [&](const std::string& name) -> const ManifestDevice* {
        for (const auto& d : manifest)
            if (d.name == name)
                return &d;
        return nullptr;
    };
    auto check_declared = [&](const std::string& name, uint32_t type) {
        const ManifestDevice* d = declared(name);
        const char* option = type == UKRUN_DEVICE_BLOCK ? "--block" : "--net";
        if (d == nullptr)
            throw DeviceError(fmt::format("{} {}: the unikernel declares no device named '{}'", option, name, name));
        if (d->type != type)
            throw DeviceError(fmt::format("{} {}: the unikernel declares '{}' as a {} device", option, name, name,
                                          device_type_name(d->type)));
    };
    for (const auto& block : config.blocks)
        check_declared(block.name, UKRUN_DEVICE_BLOCK);
    for (const auto& net : config.nets)
        check_declared(net.name, UKRUN_DEVICE_NET);

    for (const auto& device : manifest) {
        if (device.type == UKRUN_DEVICE_BLOCK) {
            auto it = std::find_if(config.blocks.begin(), config.blocks.end(),
                                   [&](const BlockSpec& b) { return b.name == device.name; });
            if (it != config.blocks.end()) {
                devices_.push_back(std::make_unique<BlockDevice>(device.name, it->backing));
                continue;
            }
        } else if (device.type == UKRUN_DEVICE_NET) {
            auto it = std::find_if(config.nets.begin(), config.nets.end(),
                                   [&](const NetSpec& n) { return n.name == device.name; });
            if (it != config.nets.end()) {
                devices_.push_back(std::make_unique<NetDevice>(device.name, it->backing));
                continue;
            }
        }
        throw DeviceError(fmt::format("the unikernel declares {} device '{}' but no backing was given (use --{} {}=...)",
                                      device_type_name(device.type), device.name, device_type_name(device.type),
                                      device.name));
    }
}

uint64_t DeviceSet::ring_bytes() const
{
    uint64_t bytes = 0;
    for (const auto& device : devices_)
        for (uint16_t size : device->queue_sizes())
            bytes = place_queue(bytes, size).end;
    return bytes;
}

void DeviceSet::attach(const GuestMemory& memory, uint64_t rings_start, ukrun_boot_info& info)
{
    uint64_t next = rings_start;
    info.device_count = static_cast<uint32_t>(devices_.size());
    for (std::size_t i = 0; i < devices_.size(); ++i) {
        Device& device = *devices_[i];
        ukrun_device_info& entry = info.devices[i];
        std::memcpy(entry.name, device.name().c_str(), device.name().size() + 1);
        entry.type = device.type();
        const auto sizes = device.queue_sizes();
        entry.queue_count = static_cast<uint32_t>(sizes.size());
        std::vector<Virtqueue> queues;
        for (std::size_t q = 0; q < sizes.size(); ++q) {
            const QueuePlacement p = place_queue(next, sizes[q]);
            next = p.end;
            entry.queues[q] = {p.desc, p.avail, p.used, sizes[q], 0};
            queues.emplace_back(memory, QueueGeometry{{p.desc}, {p.avail}, {p.used}, sizes[q]},
                                fmt::format("{} queue {}", device.name(), q));
        }
        device.describe(entry);
        device.attach(memory, std::move(queues));
    }
}

} // namespace ukrun
