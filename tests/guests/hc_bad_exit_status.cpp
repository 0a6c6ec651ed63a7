// Hostile: an exit status above UKRUN_EXIT_STATUS_MAX, which would collide with the monitor's own codes.

#include <stdio.h>

#include <ukrun/ukrun.h>

int main()
{
    printf("hc_bad_exit_status: exiting with status 200\n");
    ukrun_exit(200);
}
