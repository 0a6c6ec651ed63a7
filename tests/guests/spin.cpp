// Test guest: computes forever without polling, so only the grace deadline can stop it.
#include <stdio.h>

int main()
{
    printf("spin: computing without ever polling\n");
    volatile unsigned long counter = 0;
    for (;;)
        counter = counter + 1;
}
