// Entry point of the KVM integration tests: reports "skipped" (exit 77) without /dev/kvm.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv)
{
    if (::access("/dev/kvm", R_OK | W_OK) != 0) {
        std::puts("SKIPPED: /dev/kvm is not available on this host");
        return 77;
    }
    return Catch::Session().run(argc, argv);
}
