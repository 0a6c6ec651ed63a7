// Test guest: puts frames the monitor must drop (too short, too long) on the tx ring, then a good one.
#include <stdio.h>
#include <string.h>

#include <ukrun/nic.h>
#include <ukrun/ukrun.h>

#include "raw_hypercall.hpp"
#include "vring.hpp"

namespace {
alignas(64) unsigned char short_frame[5];
alignas(64) unsigned char long_frame[9000];
alignas(64) unsigned char good_frame[60];
} // namespace

int main()
{
    const ukrun_boot_info* info = ukrun_get_boot_info();
    if (info->device_count != 1 || info->devices[0].type != UKRUN_DEVICE_NET) {
        printf("nic_bad_frames: expected one net device\n");
        return 1;
    }
    // Drive the tx queue directly: the NIC driver would refuse to send such frames.
    ukrun::Vring tx(info->devices[0].queues[1]);
    memset(good_frame, 0xff, 6); // broadcast
    memcpy(good_frame + 6, info->devices[0].mac, 6);
    good_frame[12] = 0x88;
    good_frame[13] = 0xb5; // local experimental ethertype
    const ukrun::VringBuffer frames[] = {
        {reinterpret_cast<uintptr_t>(short_frame), sizeof(short_frame), false},
        {reinterpret_cast<uintptr_t>(long_frame), sizeof(long_frame), false},
        {reinterpret_cast<uintptr_t>(good_frame), sizeof(good_frame), false},
    };
    for (const auto& frame : frames)
        tx.publish(tx.add(&frame, 1));
    printf("nic_bad_frames: posted a 5-byte, a 9000-byte and a 60-byte frame\n");
    ukrun_hc_notify notify{0, 1};
    raw_out(static_cast<uint16_t>(UKRUN_HC_PORT_BASE + UKRUN_HC_NOTIFY), guest_address(&notify));
    ukrun::VringUsed used;
    int completed = 0;
    while (tx.harvest(used) == ukrun::VringHarvest::completed)
        ++completed;
    printf("nic_bad_frames: %s (%d of 3 completed)\n", completed == 3 ? "ok" : "FAILED", completed);
    return completed == 3 ? 0 : 1;
}
