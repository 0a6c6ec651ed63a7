// Split-virtqueue validation and bookkeeping over guest memory.
#include "virtqueue.hpp"

#include <atomic>

#include <fmt/format.h>

#include "errors.hpp"

namespace ukrun {

namespace {

constexpr uint64_t kAvailIdxOffset = 2;
constexpr uint64_t kAvailRingOffset = 4;
constexpr uint64_t kUsedIdxOffset = 2;
constexpr uint64_t kUsedRingOffset = 4;

bool aligned(GuestAddr addr, uint64_t alignment)
{
    return addr.value % alignment == 0;
}

} // namespace

Virtqueue::Virtqueue(const GuestMemory& memory, const QueueGeometry& geometry, std::string name)
    : memory_(memory), geometry_(geometry), size_(geometry.size), name_(std::move(name))
{
    if (size_ == 0 || size_ > kMaxQueueSize || (size_ & (size_ - 1)) != 0)
        throw GuestViolation(fmt::format("{}: queue size {} is not a power of two in 1..{}", name_, size_,
                                         kMaxQueueSize));
    if (!aligned(geometry.desc, 16) || !aligned(geometry.avail, 2) || !aligned(geometry.used, 4))
        throw GuestViolation(fmt::format("{}: misaligned queue areas (desc 0x{:x}, avail 0x{:x}, used 0x{:x})", name_,
                                         geometry.desc.value, geometry.avail.value, geometry.used.value));
    if (!memory.contains(geometry.desc, desc_table_bytes(size_)) ||
        !memory.contains(geometry.avail, avail_ring_bytes(size_)) ||
        !memory.contains(geometry.used, used_ring_bytes(size_)))
        throw GuestViolation(fmt::format("{}: queue areas lie outside guest memory", name_));
}

uint16_t Virtqueue::avail_index() const
{
    return memory_.read<uint16_t>({geometry_.avail.value + kAvailIdxOffset});
}

bool Virtqueue::has_available() const
{
    return avail_index() != next_avail_;
}

std::optional<DescriptorChain> Virtqueue::pop()
{
    const uint16_t avail = avail_index();
    const auto pending = static_cast<uint16_t>(avail - next_avail_);
    if (pending == 0)
        return std::nullopt;
    if (pending > size_)
        throw GuestViolation(fmt::format("{}: available index jumped by {} (queue size {})", name_, pending, size_));

    const uint64_t slot = geometry_.avail.value + kAvailRingOffset + 2ull * (next_avail_ % size_);
    const uint16_t head = memory_.read<uint16_t>({slot});
    if (head >= size_)
        throw GuestViolation(fmt::format("{}: available ring names descriptor {} (queue size {})", name_, head, size_));
    ++next_avail_;

    DescriptorChain chain;
    chain.head = head;
    uint16_t index = head;
    for (unsigned count = 1;; ++count) {
        // Copied once; every decision below is about this copy.
        const auto desc = memory_.read<ukrun_vring_desc>({geometry_.desc.value + 16ull * index});
        if (desc.flags & ~(UKRUN_VRING_DESC_F_NEXT | UKRUN_VRING_DESC_F_WRITE))
            throw GuestViolation(fmt::format("{}: descriptor {} has unsupported flags 0x{:x}", name_, index, desc.flags));
        if (!memory_.contains({desc.addr}, desc.len))
            throw GuestViolation(fmt::format("{}: descriptor {} buffer 0x{:x}+0x{:x} lies outside guest memory", name_,
                                             index, desc.addr, desc.len));
        const GuestBuffer buffer{{desc.addr}, desc.len};
        if (desc.flags & UKRUN_VRING_DESC_F_WRITE) {
            chain.writable.push_back(buffer);
            chain.writable_bytes += desc.len;
        } else {
            if (!chain.writable.empty())
                throw GuestViolation(fmt::format("{}: descriptor {} is device-readable after a device-writable one",
                                                 name_, index));
            chain.readable.push_back(buffer);
            chain.readable_bytes += desc.len;
        }
        if (chain.readable_bytes + chain.writable_bytes > UINT32_MAX)
            throw GuestViolation(fmt::format("{}: chain at descriptor {} is longer than 4 GiB in total", name_, head));
        if (!(desc.flags & UKRUN_VRING_DESC_F_NEXT))
            break;
        if (desc.next >= size_)
            throw GuestViolation(fmt::format("{}: descriptor {} links to {} (queue size {})", name_, index, desc.next,
                                             size_));
        if (count >= size_)
            throw GuestViolation(fmt::format("{}: chain at descriptor {} is longer than the queue (a loop?)", name_,
                                             head));
        index = desc.next;
    }
    return chain;
}

void Virtqueue::push_used(uint16_t head, uint32_t written)
{
    const uint64_t slot = geometry_.used.value + kUsedRingOffset + 8ull * (next_used_ % size_);
    memory_.write(GuestAddr{slot}, ukrun_vring_used_elem{head, written});
    ++next_used_;
    // The element is visible before the index (one vCPU, stopped while we run: program
    // order suffices; the fence keeps the compiler from reordering the stores).
    std::atomic_thread_fence(std::memory_order_release);
    memory_.write<uint16_t>({geometry_.used.value + kUsedIdxOffset}, next_used_);
}

void Virtqueue::suppress_notifications(bool suppress)
{
    const GuestAddr flags = geometry_.used;
    uint16_t value = memory_.read<uint16_t>(flags);
    value = suppress ? static_cast<uint16_t>(value | UKRUN_VRING_USED_F_NO_NOTIFY)
                     : static_cast<uint16_t>(value & ~UKRUN_VRING_USED_F_NO_NOTIFY);
    memory_.write(flags, value);
}

} // namespace ukrun
