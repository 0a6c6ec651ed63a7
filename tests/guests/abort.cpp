// Calls abort(): the monitor should report an abort with the message "abort() called".

#include <stdio.h>
#include <stdlib.h>

int main()
{
    printf("abort: calling abort()\n");
    abort();
}
