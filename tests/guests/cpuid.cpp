// Test guest: reports the CPUID it sees; with argv[1] == "curated" it requires ukrun's table.
#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include <ukrun/ukrun.h>

int main(int argc, char** argv)
{
    unsigned a, b, c, d;
    __cpuid(1, a, b, c, d);
    const bool vmx = c & (1u << 5), hypervisor = c & (1u << 31);
    __cpuid(0x80000001, a, b, c, d);
    const bool svm = c & (1u << 2);
    printf("cpuid: vmx %d svm %d hypervisor %d\n", vmx, svm, hypervisor);
    bool ok = !vmx && !svm && hypervisor;

    __cpuid(0x40000000, a, b, c, d);
    char vendor[13] = {};
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &c, 4);
    memcpy(vendor + 8, &d, 4);
    __cpuid(0x40000010, a, b, c, d);
    const unsigned long long khz = ukrun_get_boot_info()->tsc_hz / 1000;
    printf("cpuid: hypervisor vendor '%s', tsc leaf %u kHz, boot info %llu kHz\n", vendor, a, khz);
    if (argc > 1 && strcmp(argv[1], "curated") == 0)
        ok = ok && strcmp(vendor, "ukrunukrunuk") == 0 && a == khz;
    printf("cpuid: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
