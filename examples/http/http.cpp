// http: an HTTP/1.1 server unikernel with a page, a JSON status, keep-alive and 404s.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ukrun/net_interface.hpp>

using namespace ukrun::net;

namespace {

constexpr size_t kMaxConnections = 12;
constexpr size_t kRequestLimit = 4096;

const char kPage[] = "<!doctype html>\n<html><head><title>ukrun</title></head>\n"
                     "<body><h1>Hello from a ukrun unikernel</h1>\n"
                     "<p>This page was served by a single-purpose VM. See <a href=\"/status\">/status</a>.</p>\n"
                     "</body></html>\n";

struct Client {
    TcpConnection connection;
    char request[kRequestLimit];
    size_t used = 0;
    bool close_after_reply = false;
};

Client clients[kMaxConnections];
uint64_t requests_served = 0;
uint64_t boot_ns = 0;

char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equal_ignore_case(const char* a, const char* b, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

// Copies the next space-separated word of `line` into out; false if missing or too long.
bool next_word(const char*& line, char* out, size_t capacity)
{
    while (*line == ' ')
        ++line;
    size_t n = 0;
    while (*line != '\0' && *line != ' ' && *line != '\r') {
        if (n + 1 >= capacity)
            return false;
        out[n++] = *line++;
    }
    out[n] = '\0';
    return n > 0;
}

bool has_token(const char* headers, const char* name, const char* token)
{
    // Case-insensitive search for "name: ...token..." within the header block.
    const size_t name_len = strlen(name);
    for (const char* line = headers; line != nullptr && *line != '\0';) {
        if (equal_ignore_case(line, name, name_len) && line[name_len] == ':') {
            const char* end = strstr(line, "\r\n");
            const size_t len = end != nullptr ? static_cast<size_t>(end - line) : strlen(line);
            for (size_t i = name_len + 1; i + strlen(token) <= len; ++i)
                if (equal_ignore_case(line + i, token, strlen(token)))
                    return true;
        }
        line = strstr(line, "\r\n");
        if (line != nullptr)
            line += 2;
    }
    return false;
}

void reply(Client& client, int code, const char* reason, const char* type, const char* body, size_t body_len,
           bool head_only)
{
    char header[256];
    const int n = snprintf(header, sizeof(header),
                           "HTTP/1.1 %d %s\r\nServer: ukrun\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
                           code, reason, type, body_len, client.close_after_reply ? "Connection: close\r\n" : "");
    client.connection.write(header, static_cast<size_t>(n));
    if (!head_only)
        client.connection.write(body, body_len);
    ++requests_served;
}

// Handles every complete request in the buffer; false when the connection should close.
bool serve(Client& client)
{
    for (;;) {
        client.request[client.used] = '\0';
        char* end = strstr(client.request, "\r\n\r\n");
        if (end == nullptr)
            return client.used < kRequestLimit - 1;
        *end = '\0';
        const size_t consumed = static_cast<size_t>(end - client.request) + 4;

        char method[8], target[256], version[16];
        const char* cursor = client.request;
        if (!next_word(cursor, method, sizeof(method)) || !next_word(cursor, target, sizeof(target)) ||
            !next_word(cursor, version, sizeof(version)) || strncmp(version, "HTTP/1.", 7) != 0) {
            client.close_after_reply = true;
            reply(client, 400, "Bad Request", "text/plain", "bad request\n", 12, false);
            return false;
        }
        const char* headers = strstr(client.request, "\r\n");
        headers = headers != nullptr ? headers + 2 : "";
        client.close_after_reply = strcmp(version, "HTTP/1.0") == 0 ? !has_token(headers, "Connection", "keep-alive")
                                                                     : has_token(headers, "Connection", "close");
        const bool head = strcmp(method, "HEAD") == 0;
        if (!head && strcmp(method, "GET") != 0) {
            reply(client, 405, "Method Not Allowed", "text/plain", "method not allowed\n", 19, false);
        } else if (strcmp(target, "/") == 0 || strcmp(target, "/index.html") == 0) {
            reply(client, 200, "OK", "text/html; charset=utf-8", kPage, sizeof(kPage) - 1, head);
        } else if (strcmp(target, "/status") == 0) {
            char body[160];
            const int n = snprintf(body, sizeof(body), "{\"uptime_ms\":%llu,\"requests\":%llu}\n",
                                   static_cast<unsigned long long>((ukrun_monotonic_ns() - boot_ns) / 1000000),
                                   static_cast<unsigned long long>(requests_served + 1));
            reply(client, 200, "OK", "application/json", body, static_cast<size_t>(n), head);
        } else {
            reply(client, 404, "Not Found", "text/plain", "not found\n", 10, head);
        }
        memmove(client.request, client.request + consumed, client.used - consumed);
        client.used -= consumed;
        if (client.close_after_reply)
            return false;
    }
}

} // namespace

int main(int argc, char** argv)
{
    boot_ns = ukrun_monotonic_ns();
    Ipv4Config config;
    if (!parse_ipv4_config(argc, argv, config)) {
        printf("usage: http ip=A.B.C.D/PREFIX [gw=A.B.C.D] [port=N]\n");
        return 2;
    }
    uint16_t port = 0;
    NicInterface nic;
    TcpListener listener;
    if (!parse_port(argc, argv, 80, port) || nic.open("service", config) != Error::None ||
        nic.stack().tcp_listen(port, 8, listener) != Error::None) {
        printf("http: cannot start the network\n");
        return 1;
    }
    char address[16];
    format_ipv4(config.address, address);
    printf("http: listening on %s:%u\n", address, static_cast<unsigned>(port));

    do {
        nic.pump();
        TcpConnection incoming;
        while (listener.accept(incoming) == Error::None) {
            Client* slot = nullptr;
            for (auto& c : clients)
                if (!c.connection.valid())
                    slot = &c;
            if (slot == nullptr) {
                incoming.abort();
                continue;
            }
            slot->connection = incoming;
            slot->used = 0;
            slot->close_after_reply = false;
        }
        for (auto& c : clients) {
            if (!c.connection.valid())
                continue;
            bool keep = true;
            while (keep && c.connection.readable()) {
                const IoResult r = c.connection.read(c.request + c.used, kRequestLimit - 1 - c.used);
                if (r.bytes == 0) {
                    keep = false; // end of stream or an error
                    break;
                }
                c.used += r.bytes;
                keep = serve(c);
            }
            if (!keep || c.connection.state() == TcpState::Closed || c.connection.peer_closed())
                c.connection.close();
        }
    } while (wait_for_events(nic));
    printf("http: served %llu requests\n", static_cast<unsigned long long>(requests_served));
    return 0;
}
