// Declares a block and a net device (see CMakeLists.txt) and prints the devices the monitor attached.

#include <stdio.h>

#include <ukrun/ukrun.h>

int main()
{
    const ukrun_boot_info* info = ukrun_get_boot_info();
    printf("manifest: %u devices attached\n", info->device_count);
    for (uint32_t i = 0; i < info->device_count && i < UKRUN_MAX_DEVICES; ++i) {
        const ukrun_device_info& device = info->devices[i];
        printf("manifest: device %u: %.*s type %u queues %u\n", i, static_cast<int>(UKRUN_DEVICE_NAME_MAX),
               device.name, device.type, device.queue_count);
    }
    return 0;
}
