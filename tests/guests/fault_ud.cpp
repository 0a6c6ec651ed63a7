// Executes ud2: an invalid-opcode exception (#UD).

#include <stdio.h>

int main()
{
    printf("fault_ud: executing ud2\n");
    asm volatile("ud2");
    printf("fault_ud: survived\n");
    return 1;
}
