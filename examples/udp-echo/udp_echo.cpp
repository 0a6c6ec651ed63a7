// udp-echo: a unikernel that sends every UDP datagram back to where it came from.
#include <stdio.h>

#include <ukrun/net_interface.hpp>

using namespace ukrun::net;

int main(int argc, char** argv)
{
    Ipv4Config config;
    if (!parse_ipv4_config(argc, argv, config)) {
        printf("usage: udp-echo ip=A.B.C.D/PREFIX [gw=A.B.C.D] [port=N]\n");
        return 2;
    }
    uint16_t port;
    if (!parse_port(argc, argv, 7, port)) {
        printf("udp-echo: bad port\n");
        return 2;
    }
    NicInterface nic;
    UdpSocket socket;
    if (nic.open("service", config) != Error::None || nic.stack().udp_bind(port, socket) != Error::None) {
        printf("udp-echo: cannot start the network\n");
        return 1;
    }
    char address[16];
    format_ipv4(config.address, address);
    printf("udp-echo: listening on %s:%u\n", address, static_cast<unsigned>(port));
    static uint8_t datagram[2048];
    uint64_t echoed = 0;
    do {
        nic.pump();
        Endpoint from;
        for (IoResult r; (r = socket.receive_from(datagram, sizeof(datagram), &from)).bytes > 0;) {
            socket.send_to(from, datagram, r.bytes);
            ++echoed;
        }
    } while (wait_for_events(nic));
    printf("udp-echo: echoed %llu datagrams, %llu frames dropped\n", static_cast<unsigned long long>(echoed),
           static_cast<unsigned long long>(nic.dropped()));
    return 0;
}
