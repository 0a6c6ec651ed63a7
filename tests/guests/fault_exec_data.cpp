// Calls into a writable data array holding `ret`: data is never executable, so a page fault.

#include <stdint.h>
#include <stdio.h>

// Not const, so it lands in the writable .data segment.
unsigned char data_code[16] = {0xc3};

int main()
{
    volatile uintptr_t address = reinterpret_cast<uintptr_t>(data_code);
    printf("fault_exec_data: calling data at %p\n", reinterpret_cast<void*>(address));
    reinterpret_cast<void (*)()>(address)();
    printf("fault_exec_data: survived\n");
    return 1;
}
