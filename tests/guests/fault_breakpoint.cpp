// Executes int3: a breakpoint exception (#BP) with no debugger to take it.

#include <stdio.h>

int main()
{
    printf("fault_breakpoint: executing int3\n");
    asm volatile("int3");
    printf("fault_breakpoint: survived\n");
    return 1;
}
