// Hostile: a hypercall number inside ukrun's port range that means nothing.

#include <stdio.h>

#include <ukrun/ukrun.h>

#include "raw_hypercall.hpp"

int main()
{
    printf("hc_unknown_nr: hypercall 0x77 (port 0x%x)\n", UKRUN_HC_PORT_BASE + 0x77);
    ukrun_hc_wall_clock request{0};
    raw_out(UKRUN_HC_PORT_BASE + 0x77, guest_address(&request));
    printf("hc_unknown_nr: monitor returned\n");
    return 1;
}
