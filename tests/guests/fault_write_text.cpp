// Writes into its own code, which is mapped read-only and executable: a page fault.

#include <stdint.h>
#include <stdio.h>

int main()
{
    volatile uintptr_t address = reinterpret_cast<uintptr_t>(&main);
    printf("fault_write_text: writing to code at %p\n", reinterpret_cast<void*>(address));
    *reinterpret_cast<volatile unsigned char*>(address) = 0xcc;
    printf("fault_write_text: survived\n");
    return 1;
}
