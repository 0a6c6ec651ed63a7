// A host buffer standing in for guest RAM with a queue in it, driven by the bindings' own ring driver.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

#include <ukrun/abi.h>

#include "guest_memory.hpp"
#include "virtqueue.hpp"
#include "vring.hpp"

namespace ukrun::test {

// Lazily backed like the monitor's guest RAM, so a test may declare gigabytes of memory
// (for length-overflow cases) and pay only for the pages it touches.
class FakeRam {
public:
    explicit FakeRam(uint64_t bytes) : bytes_(bytes)
    {
        void* addr = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (addr == MAP_FAILED)
            throw std::bad_alloc();
        base_ = static_cast<std::byte*>(addr);
    }
    ~FakeRam() { ::munmap(base_, bytes_); }
    FakeRam(const FakeRam&) = delete;
    FakeRam& operator=(const FakeRam&) = delete;

    std::byte* base() const noexcept { return base_; }
    uint64_t size() const noexcept { return bytes_; }

private:
    std::byte* base_;
    uint64_t bytes_;
};

// Guest memory with one queue at its start, laid out as the monitor lays queues out, and
// a bump allocator for the buffers the fake guest hands to the device.
class FakeGuest {
public:
    explicit FakeGuest(uint16_t queue_size = 16, uint64_t mem_bytes = 1u << 20)
        : ram(mem_bytes), memory(ram.base(), ram.size())
    {
        geometry.size = queue_size;
        geometry.desc = {0x1000};
        geometry.avail = {geometry.desc.value + desc_table_bytes(queue_size)};
        geometry.used = {align_up(geometry.avail.value + avail_ring_bytes(queue_size), 4)};
        next_free_ = align_up(geometry.used.value + used_ring_bytes(queue_size), 4096);
    }

    ukrun_queue_info queue_info() const
    {
        return {geometry.desc.value, geometry.avail.value, geometry.used.value, geometry.size, 0};
    }

    // The guest's driver for the queue, as the bindings attach it inside a unikernel.
    Vring driver() const { return Vring(queue_info(), reinterpret_cast<uintptr_t>(ram.base())); }

    // Guest-physical space for a buffer; never reused, so every buffer is distinct.
    uint64_t alloc(uint64_t bytes, uint64_t alignment = 16)
    {
        const uint64_t addr = align_up(next_free_, alignment);
        if (!memory.contains({addr}, bytes))
            throw std::length_error("the fake guest ran out of memory; give the test more");
        next_free_ = addr + bytes;
        return addr;
    }

    template <class T>
    T* at(uint64_t addr) const
    {
        return reinterpret_cast<T*>(ram.base() + addr);
    }
    uint8_t* bytes(uint64_t addr) const { return at<uint8_t>(addr); }

    // Raw ring access, for the hostile cases the driver would never produce.
    ukrun_vring_desc& desc(uint16_t index) const
    {
        return at<ukrun_vring_desc>(geometry.desc.value)[index];
    }
    uint16_t& avail_flags() const { return *at<uint16_t>(geometry.avail.value); }
    uint16_t& avail_idx() const { return *at<uint16_t>(geometry.avail.value + 2); }
    uint16_t& avail_ring(uint16_t slot) const { return at<uint16_t>(geometry.avail.value + 4)[slot]; }
    uint16_t& used_flags() const { return *at<uint16_t>(geometry.used.value); }
    uint16_t& used_idx() const { return *at<uint16_t>(geometry.used.value + 2); }
    ukrun_vring_used_elem& used_ring(uint16_t slot) const
    {
        return at<ukrun_vring_used_elem>(geometry.used.value + 4)[slot];
    }

    // Writes one raw descriptor and makes `head` available as the next chain.
    void put_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) const
    {
        desc(index) = {addr, len, flags, next};
    }
    void publish_raw(uint16_t head) const
    {
        avail_ring(static_cast<uint16_t>(avail_idx() % geometry.size)) = head;
        ++avail_idx();
    }

    static constexpr uint64_t align_up(uint64_t value, uint64_t alignment)
    {
        return (value + alignment - 1) / alignment * alignment;
    }

    FakeRam ram;
    GuestMemory memory;
    QueueGeometry geometry;

private:
    uint64_t next_free_ = 0;
};

} // namespace ukrun::test
