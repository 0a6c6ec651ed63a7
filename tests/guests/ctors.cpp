// Checks that global constructors run before main, in order, and that destructors run at exit.

#include <stdio.h>

namespace {

int sequence[8];
int sequence_length;

void record(int step)
{
    if (sequence_length < 8)
        sequence[sequence_length++] = step;
}

struct Recorder {
    int step;
    explicit Recorder(int s) : step(s) { record(s); }
    ~Recorder()
    {
        if (step == 3)
            printf("ctors: destructor ran\n");
    }
};

// A priority constructor runs before every default-priority one.
[[gnu::constructor(101)]] void early()
{
    record(1);
}

// Within one file, definitions construct in order.
Recorder second(2);
Recorder third(3);

// Default priority: runs before main, but C++ leaves its order relative to this file's
// global objects unspecified.
[[gnu::constructor]] void plain_constructor()
{
    record(4);
}

int position(int step)
{
    for (int i = 0; i < sequence_length; ++i) {
        if (sequence[i] == step)
            return i;
    }
    return -1;
}

} // namespace

int main()
{
    if (sequence_length != 4 || position(1) != 0 || position(2) > position(3) || position(4) < 0) {
        printf("ctors: FAIL order:");
        for (int i = 0; i < sequence_length; ++i)
            printf(" %d", sequence[i]);
        printf(" (expected 1 first, 2 before 3, and 4)\n");
        return 1;
    }
    printf("ctors: ok\n");
    return 0;
}
