// Waits for the monitor's shutdown request (SIGTERM/SIGINT to ukrun), then exits cleanly.

#include <stdio.h>

#include <ukrun/ukrun.h>

int main()
{
    printf("shutdown: waiting for a shutdown request\n");
    while (!ukrun_shutdown_requested())
        ukrun_poll(ukrun_monotonic_ns() + 1'000'000'000ull, nullptr);
    printf("shutdown: requested, exiting\n");
    return 0;
}
