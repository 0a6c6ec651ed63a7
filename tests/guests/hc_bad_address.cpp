// Hostile: a console write whose data lies one page past the end of guest RAM.

#include <stdio.h>

#include <ukrun/ukrun.h>

#include "raw_hypercall.hpp"

int main()
{
    const uint64_t address = ukrun_get_boot_info()->mem_size + 4096;
    printf("hc_bad_address: console write of 16 bytes at 0x%llx (beyond RAM)\n",
           static_cast<unsigned long long>(address));
    ukrun_hc_console_write request{address, 16};
    raw_out(UKRUN_HC_PORT_BASE + UKRUN_HC_CONSOLE_WRITE, guest_address(&request));
    printf("hc_bad_address: monitor returned\n");
    return 1;
}
