// ping: a unikernel that answers ARP and ICMP echo, configured from its command line.
#include <stdio.h>

#include <ukrun/net_interface.hpp>

using namespace ukrun::net;

int main(int argc, char** argv)
{
    Ipv4Config config;
    if (!parse_ipv4_config(argc, argv, config)) {
        printf("usage: ping ip=A.B.C.D/PREFIX [gw=A.B.C.D]\n");
        return 2;
    }
    NicInterface nic;
    if (const Error e = nic.open("service", config); e != Error::None) {
        printf("ping: cannot start the network: %s\n", error_name(e));
        return 1;
    }
    char address[16];
    format_ipv4(config.address, address);
    printf("ping: listening on %s\n", address);
    do
        nic.pump(); // the stack answers ARP and echo requests by itself
    while (wait_for_events(nic));
    const NetStats& stats = nic.stack().stats();
    printf("ping: stopping after %llu frames in, %llu out, %llu dropped\n",
           static_cast<unsigned long long>(stats.frames_received), static_cast<unsigned long long>(stats.frames_sent),
           static_cast<unsigned long long>(nic.dropped()));
    return 0;
}
