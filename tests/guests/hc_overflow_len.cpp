// Hostile: a console write whose length makes address + length wrap around 2^64.

#include <stdio.h>

#include <ukrun/ukrun.h>

#include "raw_hypercall.hpp"

int main()
{
    printf("hc_overflow_len: console write at 0x100000 of 0xffffffffffff0000 bytes\n");
    ukrun_hc_console_write request{0x100000, 0xffffffffffff0000ull};
    raw_out(UKRUN_HC_PORT_BASE + UKRUN_HC_CONSOLE_WRITE, guest_address(&request));
    printf("hc_overflow_len: monitor returned\n");
    return 1;
}
