// Reads address 0, which must not be mapped: the monitor should report a page fault.

#include <stdint.h>
#include <stdio.h>

int main()
{
    printf("fault_null_deref: reading address 0\n");
    // Through a volatile pointer taken from a volatile, so the compiler emits a real load.
    volatile uintptr_t address = 0;
    const int value = *reinterpret_cast<volatile int*>(address);
    printf("fault_null_deref: survived, read %d\n", value);
    return 1;
}
