// Calls into a stack buffer holding `ret`: the stack is never executable, so a page fault.

#include <stdint.h>
#include <stdio.h>

int main()
{
    volatile unsigned char stack_code[16] = {0xc3};
    volatile uintptr_t address = reinterpret_cast<uintptr_t>(stack_code);
    printf("fault_exec_stack: calling stack at %p\n", reinterpret_cast<void*>(address));
    reinterpret_cast<void (*)()>(address)();
    printf("fault_exec_stack: survived\n");
    return 1;
}
