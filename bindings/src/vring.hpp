// The driver side of a split virtqueue; freestanding and hosted alike, so tests can play the guest.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <ukrun/abi.h>

namespace ukrun {

// One piece of a descriptor chain. addr is guest-physical: the driver stores it as given.
struct VringBuffer {
    uint64_t addr;
    uint32_t len;
    bool writable; // the device writes it (a read's data, a status byte)
};

struct VringUsed {
    uint16_t head; // the chain's first descriptor, as returned by add()
    uint32_t len;  // bytes the device reports having written
};

enum class VringHarvest {
    empty,        // nothing new in the used ring
    completed,    // one chain came back; its descriptors are free again
    device_error, // the used ring names no in-flight chain or runs ahead of what was posted
};

// Owns the descriptor table's free list and the driver's shadow indices. It never talks to
// the monitor: the caller notifies (when needs_notify()) and polls. The device only ever
// reads the descriptor table and the available ring, so the driver trusts what it wrote
// there, but checks every used entry before it frees anything.
class Vring {
public:
    // The chain-length table is inline so the driver needs no heap; ukrun's queues are far
    // smaller than this.
    static constexpr uint32_t max_size = 1024;
    static constexpr uint16_t no_head = 0xffff;

    Vring() = default;

    // The three areas as host pointers. size must be a power of two up to max_size.
    Vring(void* desc, void* avail, void* used, uint32_t size) { attach(desc, avail, used, size); }

    // The areas as the monitor reports them. host_base is the host address of guest-physical
    // 0: 0 inside the guest (identity mapped), the mapping's start in a hosted test.
    explicit Vring(const ukrun_queue_info& info, uintptr_t host_base = 0)
    {
        attach(reinterpret_cast<void*>(host_base + static_cast<uintptr_t>(info.desc)),
               reinterpret_cast<void*>(host_base + static_cast<uintptr_t>(info.avail)),
               reinterpret_cast<void*>(host_base + static_cast<uintptr_t>(info.used)), info.size);
    }

    // False when the geometry was unusable (size not a power of two, too large, misaligned).
    bool valid() const { return size_ != 0; }
    uint32_t size() const { return size_; }
    uint32_t free_count() const { return free_count_; }
    uint32_t in_flight() const { return in_flight_; }

    // The head the next successful add() returns, so a caller can place per-request data
    // (a header, a status byte) by head before building the chain that points at it.
    uint16_t next_head() const { return free_count_ != 0 ? free_head_ : no_head; }

    // Builds a chain from buffers (device-readable ones first, as the device requires) and
    // returns its head, or no_head if the chain is malformed, or there are not enough free
    // descriptors. The chain is not visible to the device until publish().
    uint16_t add(const VringBuffer* buffers, size_t count)
    {
        if (!valid() || count == 0 || count > free_count_)
            return no_head;
        bool seen_writable = false;
        for (size_t i = 0; i < count; ++i) {
            if (buffers[i].len == 0 || (seen_writable && !buffers[i].writable))
                return no_head;
            seen_writable = seen_writable || buffers[i].writable;
        }
        // Free descriptors are already linked through next, so taking them in list order
        // leaves each one pointing at its successor in the chain.
        const uint16_t head = free_head_;
        uint16_t index = head;
        for (size_t i = 0; i < count; ++i) {
            ukrun_vring_desc& d = desc_[index];
            d.addr = buffers[i].addr;
            d.len = buffers[i].len;
            auto flags = static_cast<uint16_t>(buffers[i].writable ? UKRUN_VRING_DESC_F_WRITE : 0u);
            if (i + 1 < count)
                flags = static_cast<uint16_t>(flags | UKRUN_VRING_DESC_F_NEXT);
            d.flags = flags;
            if (i + 1 < count)
                index = d.next;
        }
        free_head_ = desc_[index].next;
        free_count_ -= static_cast<uint32_t>(count);
        chain_len_[head] = static_cast<uint16_t>(count);
        ++in_flight_;
        return head;
    }

    // Makes the chain at head available. The release store orders the descriptor and ring
    // writes before the index the device reads them by.
    void publish(uint16_t head)
    {
        avail_ring_[avail_idx_ & (size_ - 1)] = head;
        ++avail_idx_;
        __atomic_store_n(&avail_[1], avail_idx_, __ATOMIC_RELEASE);
    }

    // Whether the device wants a notify for what was just published. The full fence keeps
    // the flag load after the index store when the device runs concurrently (net).
    bool needs_notify() const
    {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        return (__atomic_load_n(&used_[0], __ATOMIC_ACQUIRE) & UKRUN_VRING_USED_F_NO_NOTIFY) == 0;
    }

    // Takes the next used entry, if any, and frees its chain.
    VringHarvest harvest(VringUsed& out)
    {
        if (!valid())
            return VringHarvest::empty;
        const uint16_t used_idx = __atomic_load_n(&used_[1], __ATOMIC_ACQUIRE);
        if (used_idx == last_used_)
            return VringHarvest::empty;
        if (static_cast<uint16_t>(used_idx - last_used_) > in_flight_)
            return VringHarvest::device_error;
        const ukrun_vring_used_elem elem = used_ring_[last_used_ & (size_ - 1)];
        if (elem.id >= size_ || chain_len_[elem.id] == 0)
            return VringHarvest::device_error;
        ++last_used_;
        const auto head = static_cast<uint16_t>(elem.id);
        release_chain(head);
        out = VringUsed{head, elem.len};
        return VringHarvest::completed;
    }

private:
    void attach(void* desc, void* avail, void* used, uint32_t size)
    {
        const auto aligned = [](const void* p, uintptr_t alignment) {
            return (reinterpret_cast<uintptr_t>(p) & (alignment - 1)) == 0;
        };
        if (size == 0 || size > max_size || (size & (size - 1)) != 0 || !aligned(desc, 16) ||
            !aligned(avail, 2) || !aligned(used, 4))
            return;
        desc_ = static_cast<ukrun_vring_desc*>(desc);
        avail_ = static_cast<uint16_t*>(avail);
        avail_ring_ = avail_ + 2;
        used_ = static_cast<uint16_t*>(used);
        used_ring_ = reinterpret_cast<ukrun_vring_used_elem*>(used_ + 2);
        size_ = size;
        for (uint32_t i = 0; i < size; ++i) {
            desc_[i].next = static_cast<uint16_t>(i + 1 < size ? i + 1 : 0);
            chain_len_[i] = 0;
        }
        free_head_ = 0;
        free_count_ = size;
        in_flight_ = 0;
        // Continue from the ring's indices rather than assume 0, so a driver attached to a
        // drained queue stays in step with the device.
        avail_idx_ = avail_[1];
        last_used_ = __atomic_load_n(&used_[1], __ATOMIC_ACQUIRE);
        // There are no interrupts: the guest polls the used ring.
        avail_[0] = UKRUN_VRING_AVAIL_F_NO_INTERRUPT;
    }

    void release_chain(uint16_t head)
    {
        uint16_t tail = head;
        for (uint16_t i = 1; i < chain_len_[head]; ++i)
            tail = desc_[tail].next;
        desc_[tail].next = free_head_;
        free_head_ = head;
        free_count_ += chain_len_[head];
        chain_len_[head] = 0;
        --in_flight_;
    }

    // Both rings are {u16 flags, u16 idx, entries[size]}: [0] and [1] below, then the
    // entries, addressed separately so no fixed-size array is indexed past its end.
    ukrun_vring_desc* desc_ = nullptr;
    uint16_t* avail_ = nullptr;
    uint16_t* avail_ring_ = nullptr;
    uint16_t* used_ = nullptr;
    ukrun_vring_used_elem* used_ring_ = nullptr;
    uint32_t size_ = 0;
    uint32_t free_count_ = 0;
    uint32_t in_flight_ = 0; // chains added and not yet harvested
    uint16_t free_head_ = 0;
    uint16_t avail_idx_ = 0;
    uint16_t last_used_ = 0;
    uint16_t chain_len_[max_size] = {};
};

} // namespace ukrun
