// Hostile: a hypercall whose argument struct itself lies beyond guest RAM.

#include <stdio.h>

#include <ukrun/ukrun.h>

#include "raw_hypercall.hpp"

int main()
{
    const uint64_t mem_size = ukrun_get_boot_info()->mem_size;
    // The port value is 32 bits; with RAM reaching 4 GiB there is no address outside it.
    const uint64_t address = mem_size + 4096 <= UINT32_MAX ? mem_size + 4096 : UINT32_MAX & ~0xfffull;
    printf("hc_arg_outside: console write with its argument at 0x%llx (RAM ends at 0x%llx)\n",
           static_cast<unsigned long long>(address), static_cast<unsigned long long>(mem_size));
    raw_out(UKRUN_HC_PORT_BASE + UKRUN_HC_CONSOLE_WRITE, static_cast<uint32_t>(address));
    printf("hc_arg_outside: monitor returned\n");
    return 1;
}
