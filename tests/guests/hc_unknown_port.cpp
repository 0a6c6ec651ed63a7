// Hostile: a port write outside ukrun's range (the legacy COM1 port), which no device backs.

#include <stdio.h>

#include "raw_hypercall.hpp"

int main()
{
    printf("hc_unknown_port: out to port 0x3f8\n");
    raw_out(0x3f8, 'A');
    printf("hc_unknown_port: monitor returned\n");
    return 1;
}
