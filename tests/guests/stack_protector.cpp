// Overflows a stack buffer: the canary check must call __stack_chk_fail, which aborts the VM.

#include <stddef.h>
#include <stdio.h>
#include <string.h>

namespace {

volatile size_t overflow_length = 64;

[[gnu::noinline]] void smash()
{
    char buffer[16];
    memset(buffer, 'A', overflow_length);
    // Keep the buffer observably used so the writes are not removed.
    asm volatile("" : : "r"(buffer) : "memory");
}

} // namespace

int main()
{
    printf("stack_protector: overflowing a 16-byte stack buffer by 48 bytes\n");
    smash();
    printf("stack_protector: survived\n");
    return 1;
}
