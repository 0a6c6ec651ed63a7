// The one checked accessor between guest-physical addresses and host memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

namespace ukrun {

// A guest-physical address. Deliberately not a pointer: it can only be turned into host
// bytes through GuestMemory, which checks the whole range, not just the start.
struct GuestAddr {
    uint64_t value = 0;
    friend constexpr bool operator==(GuestAddr, GuestAddr) = default;
    friend constexpr auto operator<=>(GuestAddr, GuestAddr) = default;
};

class GuestMemory {
public:
    GuestMemory(std::byte* base, uint64_t size) noexcept : base_(base), size_(size) {}

    uint64_t size() const noexcept { return size_; }

    // True when [addr, addr + len) lies wholly inside guest RAM; overflow-safe.
    bool contains(GuestAddr addr, uint64_t len) const noexcept
    {
        return addr.value <= size_ && len <= size_ - addr.value;
    }

    // Host view of [addr, addr + len). Throws GuestViolation naming the range when any
    // byte of it is outside guest RAM. Guest-controlled values enter here.
    std::span<std::byte> slice(GuestAddr addr, uint64_t len) const;

    // Copies a trivially copyable T out of guest memory once; callers validate the copy,
    // never the guest's bytes, so the guest cannot change a value after it was checked.
    template <class T>
    T read(GuestAddr addr) const
    {
        static_assert(std::is_trivially_copyable_v<T>);
        T value;
        std::memcpy(&value, slice(addr, sizeof(T)).data(), sizeof(T));
        return value;
    }

    template <class T>
    void write(GuestAddr addr, const T& value) const
    {
        static_assert(std::is_trivially_copyable_v<T>);
        std::memcpy(slice(addr, sizeof(T)).data(), &value, sizeof(T));
    }

    void write_bytes(GuestAddr addr, std::span<const std::byte> bytes) const
    {
        if (!bytes.empty())
            std::memcpy(slice(addr, bytes.size()).data(), bytes.data(), bytes.size());
    }

private:
    std::byte* base_;
    uint64_t size_;
};

} // namespace ukrun
