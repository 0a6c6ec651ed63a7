// A fixed-capacity byte ring: TCP send and receive buffers and the UDP datagram queue.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <new>

namespace ukrun::net::detail {

class ByteRing {
public:
    ByteRing() = default;
    ByteRing(const ByteRing&) = delete;
    ByteRing& operator=(const ByteRing&) = delete;
    ~ByteRing() { release(); }

    // The nothrow new: running out of heap is an error code here, not the end of the VM.
    bool allocate(size_t capacity)
    {
        release();
        data_ = new (std::nothrow) uint8_t[capacity];
        if (data_ == nullptr)
            return false;
        capacity_ = capacity;
        return true;
    }
    void release()
    {
        delete[] data_;
        data_ = nullptr;
        capacity_ = head_ = count_ = 0;
    }
    void clear() { head_ = count_ = 0; }

    size_t size() const { return count_; }
    size_t capacity() const { return capacity_; }
    size_t space() const { return capacity_ - count_; }

    size_t push(const void* source, size_t len)
    {
        if (len > space())
            len = space();
        if (len == 0)
            return 0;
        const size_t tail = (head_ + count_) % capacity_;
        const size_t first = len < capacity_ - tail ? len : capacity_ - tail;
        const auto* bytes = static_cast<const uint8_t*>(source);
        memcpy(data_ + tail, bytes, first);
        if (len > first)
            memcpy(data_, bytes + first, len - first);
        count_ += len;
        return len;
    }
    // Copies up to len bytes starting offset bytes past the head, without consuming them.
    size_t peek(size_t offset, void* destination, size_t len) const
    {
        if (offset >= count_ || len == 0)
            return 0;
        if (len > count_ - offset)
            len = count_ - offset;
        const size_t start = (head_ + offset) % capacity_;
        const size_t first = len < capacity_ - start ? len : capacity_ - start;
        auto* bytes = static_cast<uint8_t*>(destination);
        memcpy(bytes, data_ + start, first);
        if (len > first)
            memcpy(bytes + first, data_, len - first);
        return len;
    }
    void pop(size_t len)
    {
        if (len > count_)
            len = count_;
        head_ = count_ == len ? 0 : (head_ + len) % capacity_;
        count_ -= len;
    }

private:
    uint8_t* data_ = nullptr;
    size_t capacity_ = 0;
    size_t head_ = 0;
    size_t count_ = 0;
};

} // namespace ukrun::net::detail
