// Checks the clocks: monotonic never goes back, a 50 ms sleep lasts 50-500 ms, wall clock is after 2020.

#include <stdint.h>
#include <stdio.h>

#include <ukrun/ukrun.h>

int main()
{
    printf("clock: reading the monotonic clock 1000000 times\n");
    uint64_t previous = ukrun_monotonic_ns();
    for (int i = 0; i < 1000000; ++i) {
        const uint64_t now = ukrun_monotonic_ns();
        if (now < previous) {
            printf("clock: FAIL monotonic went back from %llu to %llu\n",
                   static_cast<unsigned long long>(previous), static_cast<unsigned long long>(now));
            return 1;
        }
        previous = now;
    }

    constexpr uint64_t sleep_ns = 50'000'000;
    const uint64_t before = ukrun_monotonic_ns();
    ukrun_sleep_ns(sleep_ns);
    const uint64_t slept = ukrun_monotonic_ns() - before;
    if (slept < sleep_ns || slept > 10 * sleep_ns) {
        printf("clock: FAIL sleep of %llu ns took %llu ns\n", static_cast<unsigned long long>(sleep_ns),
               static_cast<unsigned long long>(slept));
        return 1;
    }

    // 2020-01-01T00:00:00Z.
    constexpr uint64_t year_2020_ns = 1'577'836'800ull * 1'000'000'000ull;
    const uint64_t wall = ukrun_wall_clock_ns();
    if (wall < year_2020_ns) {
        printf("clock: FAIL wall clock %llu ns is before 2020\n", static_cast<unsigned long long>(wall));
        return 1;
    }
    printf("clock: ok (slept %llu ns)\n", static_cast<unsigned long long>(slept));
    return 0;
}
