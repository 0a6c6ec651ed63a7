// Hello world for ukrun: prints a greeting and each command-line argument.

#include <stdio.h>

int main(int argc, char** argv)
{
    printf("Hello from ukrun!\n");
    for (int i = 1; i < argc; ++i)
        printf("arg %d: %s\n", i, argv[i]);
    return 0;
}
