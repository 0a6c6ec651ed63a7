// Hostile: a write to the port reserved for the monitor's CPL 0 exception stubs, forging a fault report.

#include <stdio.h>

#include <ukrun/ukrun.h>

#include "raw_hypercall.hpp"

int main()
{
    printf("hc_fault_port: out to the fault port 0x%x from CPL 3\n", UKRUN_FAULT_PORT);
    raw_out(UKRUN_FAULT_PORT, 0);
    printf("hc_fault_port: monitor returned\n");
    return 1;
}
