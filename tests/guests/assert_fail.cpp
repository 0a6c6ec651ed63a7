// Fails an assert(): the monitor should report an abort naming the expression, file and line.

#undef NDEBUG
#include <assert.h>
#include <stdio.h>

int main(int argc, char**)
{
    printf("assert_fail: asserting argc == 1000\n");
    assert(argc == 1000);
    printf("assert_fail: survived\n");
    return 1;
}
