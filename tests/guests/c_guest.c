/* A unikernel written in C: uses printf, snprintf, malloc and strlen from the bindings' libc. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ukrun/ukrun.h>

int main(int argc, char** argv)
{
    const char* greeting = "c guest";
    char* copy = malloc(strlen(greeting) + 1);
    if (copy == NULL) {
        printf("c guest: FAIL malloc\n");
        return 1;
    }
    strcpy(copy, greeting);
    char line[64];
    const int len = snprintf(line, sizeof(line), "%s: %s", copy, "ok");
    if (len != 11 || strcmp(line, "c guest: ok") != 0 || strlen(argv[0]) == 0 ||
        ukrun_get_boot_info()->argc != (uint32_t)argc) {
        printf("c guest: FAIL got \"%s\" (%d)\n", line, len);
        return 1;
    }
    free(copy);
    puts(line);
    return 0;
}
