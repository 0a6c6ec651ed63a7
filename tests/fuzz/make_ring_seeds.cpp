// Writes well-formed rings and hypercall sequences as seed corpora for fuzz_virtqueue and fuzz_hypercalls.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <ukrun/abi.h>

#include "fuzz_guest.hpp"

using namespace ukrun;
using namespace ukrun::fuzz;

namespace {

// Guest RAM from `origin` on, grown as the seed writes into it.
class Image {
public:
    explicit Image(uint64_t origin) : origin_(origin) {}

    template <class T>
    void put(uint64_t addr, const T& value)
    {
        const uint64_t at = addr - origin_;
        if (bytes_.size() < at + sizeof(T))
            bytes_.resize(at + sizeof(T));
        std::memcpy(bytes_.data() + at, &value, sizeof(T));
    }

    const std::vector<uint8_t>& bytes() const { return bytes_; }

private:
    uint64_t origin_;
    std::vector<uint8_t> bytes_;
};

// A guest driver in miniature: descriptors in order, one avail entry per chain.
class Ring {
public:
    Ring(Image& image, const QueueGeometry& g) : image_(image), g_(g) {}

    void chain(const std::vector<std::pair<uint32_t, bool>>& buffers, uint64_t& next_buffer)
    {
        const auto head = next_desc_;
        for (std::size_t i = 0; i < buffers.size(); ++i) {
            const auto [len, writable] = buffers[i];
            const bool more = i + 1 < buffers.size();
            const ukrun_vring_desc d{next_buffer, len,
                                     static_cast<uint16_t>((more ? UKRUN_VRING_DESC_F_NEXT : 0) |
                                                           (writable ? UKRUN_VRING_DESC_F_WRITE : 0)),
                                     static_cast<uint16_t>(more ? next_desc_ + 1 : 0)};
            image_.put(g_.desc.value + 16ull * next_desc_++, d);
            next_buffer = align_up(next_buffer + len, 16);
        }
        image_.put<uint16_t>(g_.avail.value + 4 + 2ull * avail_, head);
        image_.put<uint16_t>(g_.avail.value + 2, static_cast<uint16_t>(++avail_));
    }

    // Block requests: the header lands in the chain's first buffer.
    void block(uint32_t type, uint64_t sector, std::vector<std::pair<uint32_t, bool>> buffers, uint64_t& next_buffer)
    {
        image_.put(next_buffer, ukrun_block_request_header{type, 0, sector});
        chain(buffers, next_buffer);
    }

private:
    Image& image_;
    QueueGeometry g_;
    uint16_t next_desc_ = 0;
    uint16_t avail_ = 0;
};

bool write_seed(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes)
{
    std::ofstream out(dir + "/" + name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return static_cast<bool>(out);
}

std::vector<uint8_t> virtqueue_seed(uint8_t config, uint16_t capacity, const Image& image)
{
    VirtqueueInputHeader header{config, 0, capacity};
    std::vector<uint8_t> out(sizeof(header));
    std::memcpy(out.data(), &header, sizeof(header));
    out.insert(out.end(), image.bytes().begin(), image.bytes().end());
    return out;
}

constexpr uint32_t kHeader = sizeof(ukrun_block_request_header);

// Read, write, flush and a bad request on one block queue of 1 << size_log descriptors.
Image block_image(unsigned size_log)
{
    Image image(kRingsBase);
    uint64_t next_page = 0;
    const QueueGeometry g = place_queue(kRingsBase, static_cast<uint16_t>(1u << size_log), &next_page);
    Ring ring(image, g);
    uint64_t buffer = next_page;
    ring.block(UKRUN_BLOCK_T_READ, 1, {{kHeader, false}, {512, true}, {1, true}}, buffer);
    if (size_log >= 2) {
        ring.block(UKRUN_BLOCK_T_WRITE, 2, {{kHeader + 512, false}, {1, true}}, buffer);
        ring.block(UKRUN_BLOCK_T_FLUSH, 0, {{kHeader, false}, {1, true}}, buffer);
    }
    if (size_log >= 3)
        ring.block(9, 0, {{kHeader, false}, {1, true}}, buffer);
    return image;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s VIRTQUEUE_CORPUS_DIR HYPERCALLS_CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const std::string rings = argv[1], calls = argv[2];
    bool ok = true;

    for (unsigned size_log : {0u, 3u, 7u}) {
        const Image image = block_image(size_log);
        for (unsigned mode : {0u, 1u, 3u}) {
            const auto config = static_cast<uint8_t>(size_log | mode << 4);
            ok &= write_seed(rings, "block-" + std::to_string(size_log) + "-" + std::to_string(mode),
                             virtqueue_seed(config, 128, image));
        }
    }

    // Net: rx buffers on the first queue, frames to send on the second.
    {
        Image image(kRingsBase);
        uint64_t next_page = 0;
        const QueueGeometry rx = place_queue(kRingsBase, 8, &next_page);
        const QueueGeometry tx = place_queue(next_page, 8, &next_page);
        Ring rx_ring(image, rx), tx_ring(image, tx);
        uint64_t buffer = next_page;
        rx_ring.chain({{1514, true}}, buffer);
        rx_ring.chain({{1000, true}, {514, true}}, buffer);
        rx_ring.chain({{64, true}}, buffer);
        tx_ring.chain({{60, false}}, buffer);
        tx_ring.chain({{14, false}, {100, false}}, buffer);
        tx_ring.chain({{60, true}}, buffer);
        ok &= write_seed(rings, "net", virtqueue_seed(3 | 2 << 4, 3 | 40 << 2, image));
    }

    // Hypercalls: every call once with well-formed arguments, a notify that serves a read,
    // then exit.
    {
        Image image(0);
        const char text[] = "hello\n";
        image.put(0x800, text);
        image.put(0x100, ukrun_hc_console_write{0x800, sizeof(text) - 1});
        image.put(0x120, ukrun_hc_wall_clock{});
        image.put(0x140, ukrun_hc_poll{});
        image.put(0x160, ukrun_hc_notify{0, 0});
        image.put(0x180, ukrun_hc_exit{7, 0});
        image.put(0x1a0, ukrun_hc_abort{0x800, sizeof(text) - 1});
        uint64_t next_page = 0;
        Ring ring(image, place_queue(kRingsBase, kHypercallQueueSize, &next_page));
        uint64_t buffer = next_page;
        ring.block(UKRUN_BLOCK_T_READ, 0, {{kHeader, false}, {512, true}, {1, true}}, buffer);
        ring.block(UKRUN_BLOCK_T_WRITE, 3, {{kHeader + 512, false}, {1, true}}, buffer);

        const auto port = [](uint32_t number) { return static_cast<uint16_t>(UKRUN_HC_PORT_BASE + number); };
        const auto sequence = [&](std::vector<HypercallExit> exits) {
            std::vector<uint8_t> out{static_cast<uint8_t>(exits.size())};
            const auto* raw = reinterpret_cast<const uint8_t*>(exits.data());
            out.insert(out.end(), raw, raw + exits.size() * sizeof(HypercallExit));
            out.insert(out.end(), image.bytes().begin(), image.bytes().end());
            return out;
        };
        ok &= write_seed(calls, "all", sequence({{port(UKRUN_HC_CONSOLE_WRITE), 0x84, 0, 0x100},
                                                 {port(UKRUN_HC_WALL_CLOCK), 0x84, 0, 0x120},
                                                 {port(UKRUN_HC_POLL), 0x84, 0, 0x140},
                                                 {port(UKRUN_HC_NOTIFY), 0x84, 0, 0x160},
                                                 {port(UKRUN_HC_EXIT), 0x84, 0, 0x180}}));
        ok &= write_seed(calls, "abort", sequence({{port(UKRUN_HC_ABORT), 0x84, 0, 0x1a0}}));
    }
    return ok ? 0 : 1;
}
