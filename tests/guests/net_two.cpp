// Test guest: two NICs, two stacks (ip= on `a`, ip2= on `b`), answering ARP and ping on both.
#include <stdio.h>
#include <string.h>

#include <ukrun/net_interface.hpp>

using namespace ukrun::net;

int main(int argc, char** argv)
{
    Ipv4Config first, second;
    // The second NIC's address comes as ip2=...; the stack's parser reads the ip= spelling.
    char second_text[64] = "";
    for (int i = 1; i < argc; ++i)
        if (strncmp(argv[i], "ip2=", 4) == 0)
            snprintf(second_text, sizeof(second_text), "ip=%s", argv[i] + 4);
    if (!parse_ipv4_config(argc, argv, first) || !parse_ipv4_config(second_text, second)) {
        printf("usage: net_two ip=A.B.C.D/P ip2=A.B.C.D/P\n");
        return 2;
    }
    NicInterface a, b;
    if (a.open("a", first) != Error::None || b.open("b", second) != Error::None) {
        printf("net_two: cannot start both NICs\n");
        return 1;
    }
    NicInterface* both[] = {&a, &b};
    printf("net_two: listening on both NICs\n");
    do {
        a.pump();
        b.pump();
    } while (wait_for_events(both, 2));
    return 0;
}
