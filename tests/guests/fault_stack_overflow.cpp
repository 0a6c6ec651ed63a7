// Recurses without bound with large frames: the stack must end in a guard page, not in other memory.

#include <stdio.h>

namespace {

[[gnu::noinline]] int recurse(int depth)
{
    // volatile keeps the frame real and the recursion not a tail call.
    volatile char frame[4096];
    frame[0] = static_cast<char>(depth);
    frame[sizeof(frame) - 1] = static_cast<char>(depth);
    return recurse(depth + 1) + frame[0] + frame[sizeof(frame) - 1];
}

} // namespace

int main()
{
    printf("fault_stack_overflow: recursing without bound\n");
    const int result = recurse(0);
    printf("fault_stack_overflow: survived (%d)\n", result);
    return 1;
}
