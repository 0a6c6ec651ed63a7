// Exits with the status given as argv[1], so the monitor's exit code can be checked.

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv)
{
    const int status = argc > 1 ? atoi(argv[1]) : 0;
    printf("exit_status: exiting with %d\n", status);
    return status;
}
