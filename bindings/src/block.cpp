// Block device driver: requests as header/data/status chains on the device's one queue, batched per notify.

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ukrun/block.h>
#include <ukrun/ukrun.h>

#include "hypercall.hpp"
#include "internal.hpp"
#include "vring.hpp"

namespace {

// What the device reads and writes besides the data, one per possible chain head, so a
// request's header and status byte stay put while it is in flight.
struct RequestSlot {
    ukrun_block_request_header header;
    size_t op;             // index of the op it belongs to in the current batch
    uint32_t expected_len; // what a successful completion reports as written
    uint8_t status;
};

// Never a status the device may write, so a completion that skipped it is noticed.
constexpr uint8_t status_unwritten = 0xff;
// Header, data, status.
constexpr uint32_t descriptors_per_request = 3;
// Block requests complete within the notify; this only bounds a monitor that stops
// completing them, so the unikernel dies with a diagnosis instead of hanging.
constexpr uint64_t completion_timeout_ns = 10'000'000'000ull;

} // namespace

struct ukrun_block {
    uint32_t index; // in the boot info device table, which is also the notify's device
    const ukrun_device_info* info;
    uint32_t sector_size;
    uint32_t chunk_bytes; // max_request rounded down to whole sectors
    ukrun::Vring ring;
    RequestSlot* slots; // ring.size() entries, indexed by chain head
    bool acquired;
};

namespace {

ukrun_block devices[UKRUN_MAX_DEVICES];

bool is_power_of_two(uint32_t value)
{
    return value != 0 && (value & (value - 1)) == 0;
}

void notify(ukrun_block& dev)
{
    if (!dev.ring.needs_notify())
        return;
    ukrun_hc_notify request{dev.index, 0};
    ukrun::hypercall(UKRUN_HC_NOTIFY, &request);
}

int32_t completion_result(const RequestSlot& slot, uint32_t used_len)
{
    switch (slot.status) {
    case UKRUN_BLOCK_S_OK:
        // A short length means the data or the status byte was not all written.
        return used_len == slot.expected_len ? UKRUN_BLOCK_OK : UKRUN_BLOCK_EPROTO;
    case UKRUN_BLOCK_S_IOERR:
        return UKRUN_BLOCK_EIO;
    case UKRUN_BLOCK_S_UNSUPPORTED:
        return UKRUN_BLOCK_EUNSUPPORTED;
    default:
        return UKRUN_BLOCK_EPROTO;
    }
}

// Notifies for everything posted and waits until all of it has come back.
void complete_all(ukrun_block& dev, ukrun_block_op* ops)
{
    if (dev.ring.in_flight() == 0)
        return;
    notify(dev);
    uint64_t progress_ns = ukrun_monotonic_ns();
    while (dev.ring.in_flight() > 0) {
        ukrun::VringUsed used{};
        const ukrun::VringHarvest harvest = dev.ring.harvest(used);
        if (harvest == ukrun::VringHarvest::device_error)
            ukrun_panic("block device '%.*s': the used ring names a request that is not pending",
                        static_cast<int>(UKRUN_DEVICE_NAME_MAX), dev.info->name);
        if (harvest == ukrun::VringHarvest::completed) {
            const RequestSlot& slot = dev.slots[used.head];
            const int32_t result = completion_result(slot, used.len);
            if (result != UKRUN_BLOCK_OK && ops[slot.op].status == UKRUN_BLOCK_OK)
                ops[slot.op].status = result;
            progress_ns = ukrun_monotonic_ns();
            continue;
        }
        const uint64_t now = ukrun_monotonic_ns();
        if (now - progress_ns > completion_timeout_ns)
            ukrun_panic("block device '%.*s': %u requests not completed after 10 s",
                        static_cast<int>(UKRUN_DEVICE_NAME_MAX), dev.info->name, dev.ring.in_flight());
        ukrun_poll(now + 1'000'000, nullptr);
    }
}

// Adds one request to the ring without notifying; false when the queue is full.
bool post(ukrun_block& dev, size_t op, uint32_t type, uint64_t sector, void* data, uint32_t bytes)
{
    const uint16_t head = dev.ring.next_head();
    if (head == ukrun::Vring::no_head)
        return false;
    RequestSlot& slot = dev.slots[head];
    slot.header = ukrun_block_request_header{type, 0, sector};
    slot.op = op;
    slot.expected_len = 1 + (type == UKRUN_BLOCK_T_READ ? bytes : 0);
    slot.status = status_unwritten;

    // Zero copy: the guest is identity mapped, so the caller's pointer is the address.
    ukrun::VringBuffer buffers[descriptors_per_request];
    size_t count = 0;
    buffers[count++] = {reinterpret_cast<uintptr_t>(&slot.header), sizeof(slot.header), false};
    if (bytes != 0)
        buffers[count++] = {reinterpret_cast<uintptr_t>(data), bytes, type == UKRUN_BLOCK_T_READ};
    buffers[count++] = {reinterpret_cast<uintptr_t>(&slot.status), 1, true};
    if (dev.ring.add(buffers, count) != head)
        return false;
    dev.ring.publish(head);
    return true;
}

int32_t validate(const ukrun_block& dev, const ukrun_block_op& op)
{
    switch (op.type) {
    case UKRUN_BLOCK_T_FLUSH:
        return UKRUN_BLOCK_OK;
    case UKRUN_BLOCK_T_READ:
    case UKRUN_BLOCK_T_WRITE:
        if (op.bytes % dev.sector_size != 0 || (op.bytes != 0 && op.buffer == nullptr))
            return UKRUN_BLOCK_EINVAL;
        return UKRUN_BLOCK_OK;
    default:
        return UKRUN_BLOCK_EINVAL;
    }
}

int run(ukrun_block* dev, ukrun_block_op* ops, size_t n)
{
    if (dev == nullptr || (ops == nullptr && n != 0))
        return UKRUN_BLOCK_EINVAL;
    for (size_t i = 0; i < n; ++i)
        ops[i].status = validate(*dev, ops[i]);

    size_t i = 0;
    size_t offset = 0; // bytes of ops[i] already posted
    while (i < n) {
        ukrun_block_op& op = ops[i];
        if (op.status != UKRUN_BLOCK_OK) {
            ++i;
            continue;
        }
        if (op.type == UKRUN_BLOCK_T_FLUSH) {
            // A flush covers only writes the device has completed, so finish those first.
            complete_all(*dev, ops);
            if (!post(*dev, i, UKRUN_BLOCK_T_FLUSH, 0, nullptr, 0))
                ukrun_panic("block: an empty queue has no room for a flush");
            ++i;
            continue;
        }
        const size_t remaining = op.bytes - offset;
        if (remaining == 0) {
            ++i;
            offset = 0;
            continue;
        }
        const auto chunk = static_cast<uint32_t>(remaining < dev->chunk_bytes ? remaining : dev->chunk_bytes);
        const uint64_t sector = op.sector + offset / dev->sector_size;
        if (!post(*dev, i, op.type, sector, static_cast<char*>(op.buffer) + offset, chunk)) {
            // The queue is full: this batch goes out with one notify, then the next begins.
            complete_all(*dev, ops);
            continue;
        }
        offset += chunk;
    }
    complete_all(*dev, ops);

    for (size_t j = 0; j < n; ++j)
        if (ops[j].status != UKRUN_BLOCK_OK)
            return ops[j].status;
    return UKRUN_BLOCK_OK;
}

} // namespace

extern "C" {

ukrun_block* ukrun_block_acquire(const char* name)
{
    const ukrun_boot_info* info = ukrun_get_boot_info();
    if (name == nullptr || strnlen(name, UKRUN_DEVICE_NAME_MAX) == UKRUN_DEVICE_NAME_MAX)
        return nullptr;
    const uint32_t count = info->device_count < UKRUN_MAX_DEVICES ? info->device_count : UKRUN_MAX_DEVICES;
    for (uint32_t i = 0; i < count; ++i) {
        const ukrun_device_info& device = info->devices[i];
        if (strncmp(device.name, name, UKRUN_DEVICE_NAME_MAX) != 0)
            continue;
        if (device.type != UKRUN_DEVICE_BLOCK)
            return nullptr;
        ukrun_block& dev = devices[i];
        if (dev.acquired)
            return &dev;
        // The geometry comes from the monitor; refuse what the driver cannot use rather
        // than send requests that can only fail.
        if (device.queue_count < 1 || !is_power_of_two(device.sector_size) ||
            device.max_request < device.sector_size)
            return nullptr;
        dev.ring = ukrun::Vring(device.queues[0]);
        if (!dev.ring.valid() || dev.ring.size() < descriptors_per_request)
            return nullptr;
        dev.slots = static_cast<RequestSlot*>(calloc(dev.ring.size(), sizeof(RequestSlot)));
        if (dev.slots == nullptr)
            return nullptr;
        dev.index = i;
        dev.info = &device;
        dev.sector_size = device.sector_size;
        dev.chunk_bytes = device.max_request - device.max_request % device.sector_size;
        dev.acquired = true;
        return &dev;
    }
    return nullptr;
}

uint32_t ukrun_block_sector_size(const ukrun_block* dev)
{
    return dev->sector_size;
}

uint64_t ukrun_block_capacity(const ukrun_block* dev)
{
    return dev->info->capacity;
}

int ukrun_block_readonly(const ukrun_block* dev)
{
    return (dev->info->flags & UKRUN_DEVICE_F_READONLY) != 0 ? 1 : 0;
}

uint32_t ukrun_block_max_request(const ukrun_block* dev)
{
    return dev->info->max_request;
}

uint32_t ukrun_block_queue_depth(const ukrun_block* dev)
{
    return dev->ring.size() / descriptors_per_request;
}

int ukrun_block_read(ukrun_block* dev, uint64_t sector, void* buffer, size_t bytes)
{
    ukrun_block_op op{UKRUN_BLOCK_T_READ, 0, sector, buffer, bytes};
    return run(dev, &op, 1);
}

int ukrun_block_write(ukrun_block* dev, uint64_t sector, const void* buffer, size_t bytes)
{
    // The device only reads a write's buffer; the op type is generic over both directions.
    ukrun_block_op op{UKRUN_BLOCK_T_WRITE, 0, sector, const_cast<void*>(buffer), bytes};
    return run(dev, &op, 1);
}

int ukrun_block_flush(ukrun_block* dev)
{
    ukrun_block_op op{UKRUN_BLOCK_T_FLUSH, 0, 0, nullptr, 0};
    return run(dev, &op, 1);
}

int ukrun_block_submit(ukrun_block* dev, ukrun_block_op* ops, size_t n)
{
    return run(dev, ops, n);
}

const char* ukrun_block_strerror(int result)
{
    switch (result) {
    case UKRUN_BLOCK_OK:
        return "success";
    case UKRUN_BLOCK_EIO:
        return "I/O error";
    case UKRUN_BLOCK_EUNSUPPORTED:
        return "not supported by the device";
    case UKRUN_BLOCK_EINVAL:
        return "invalid request";
    case UKRUN_BLOCK_EPROTO:
        return "device protocol error";
    default:
        return "unknown error";
    }
}

} // extern "C"
