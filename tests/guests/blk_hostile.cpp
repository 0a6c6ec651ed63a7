// Hostile: hand-built corrupt block rings, selected by argv[1]; the monitor must end the VM (exit 114).

#include <stdio.h>
#include <string.h>

#include <ukrun/ukrun.h>

#include "raw_hypercall.hpp"

namespace {

ukrun_block_request_header header{UKRUN_BLOCK_T_READ, 0, 0};
uint8_t data[4096];
uint8_t status;

void set(ukrun_vring_desc& d, const void* address, uint32_t len, uint16_t flags, uint16_t next)
{
    d = ukrun_vring_desc{reinterpret_cast<uintptr_t>(address), len, flags, next};
}

} // namespace

int main(int argc, char** argv)
{
    const char* mode = argc > 1 ? argv[1] : "";
    const ukrun_boot_info* info = ukrun_get_boot_info();
    uint32_t device = 0;
    while (device < info->device_count && strcmp(info->devices[device].name, "storage") != 0)
        ++device;
    if (device == info->device_count) {
        printf("hostile: no block device 'storage' (run with --block storage=PATH)\n");
        return 2;
    }
    const ukrun_queue_info& queue = info->devices[device].queues[0];
    auto* desc = reinterpret_cast<ukrun_vring_desc*>(static_cast<uintptr_t>(queue.desc));
    auto* avail = reinterpret_cast<uint16_t*>(static_cast<uintptr_t>(queue.avail));
    const uint32_t size = queue.size;
    const auto next_flag = static_cast<uint16_t>(UKRUN_VRING_DESC_F_NEXT);
    const auto write_flag = static_cast<uint16_t>(UKRUN_VRING_DESC_F_WRITE);
    const auto both_flags = static_cast<uint16_t>(next_flag | write_flag);
    // Each case publishes one chain at head 0 unless it corrupts the index itself.
    uint16_t avail_idx = 1;
    uint32_t notify_device = device;
    uint32_t notify_queue = 0;

    if (strcmp(mode, "avail-jump") == 0) {
        printf("hostile: avail-jump: avail.idx advanced by size + 1 (%u) at once\n", size + 1);
        set(desc[0], &header, sizeof(header), next_flag, 1);
        set(desc[1], &status, 1, write_flag, 0);
        avail_idx = static_cast<uint16_t>(size + 1);
    } else if (strcmp(mode, "loop") == 0) {
        printf("hostile: loop: descriptor 0 has NEXT set and next = 0\n");
        set(desc[0], &header, sizeof(header), next_flag, 0);
    } else if (strcmp(mode, "next-oob") == 0) {
        printf("hostile: next-oob: descriptor 0 chains to %u in a queue of %u\n", size + 5, size);
        set(desc[0], &header, sizeof(header), next_flag, static_cast<uint16_t>(size + 5));
    } else if (strcmp(mode, "addr-oob") == 0) {
        const uint64_t beyond = info->mem_size + UKRUN_PAGE_SIZE;
        printf("hostile: addr-oob: read into 512 bytes at 0x%llx, beyond guest memory\n",
               static_cast<unsigned long long>(beyond));
        set(desc[0], &header, sizeof(header), next_flag, 1);
        desc[1] = ukrun_vring_desc{beyond, 512, both_flags, 2};
        set(desc[2], &status, 1, write_flag, 0);
    } else if (strcmp(mode, "huge-len") == 0) {
        printf("hostile: huge-len: two data descriptors of 0xffffffff bytes each\n");
        set(desc[0], &header, sizeof(header), next_flag, 1);
        set(desc[1], data, 0xffffffffu, both_flags, 2);
        set(desc[2], data, 0xffffffffu, both_flags, 3);
        set(desc[3], &status, 1, write_flag, 0);
    } else if (strcmp(mode, "write-before-read") == 0) {
        printf("hostile: write-before-read: a device-writable descriptor before a readable one\n");
        set(desc[0], &status, 1, both_flags, 1);
        set(desc[1], &header, sizeof(header), 0, 0);
    } else if (strcmp(mode, "bad-device") == 0) {
        printf("hostile: bad-device: notify for device %u of %u\n", UKRUN_MAX_DEVICES, info->device_count);
        notify_device = UKRUN_MAX_DEVICES;
        avail_idx = 0;
    } else if (strcmp(mode, "bad-queue") == 0) {
        printf("hostile: bad-queue: notify for queue 1 of a block device\n");
        notify_queue = 1;
        avail_idx = 0;
    } else {
        printf("usage: blk_hostile avail-jump|loop|next-oob|addr-oob|huge-len|write-before-read|"
               "bad-device|bad-queue\n");
        return 2;
    }

    avail[2] = 0; // ring[0] = head 0
    __atomic_store_n(&avail[1], avail_idx, __ATOMIC_RELEASE);
    ukrun_hc_notify request{notify_device, notify_queue};
    raw_out(UKRUN_HC_PORT_BASE + UKRUN_HC_NOTIFY, guest_address(&request));
    printf("hostile: monitor accepted\n");
    return 1;
}
