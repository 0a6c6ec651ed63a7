// The heap: boundary-tagged chunks over [heap_start, heap_end) with power-of-two free bins and coalescing.

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ukrun/ukrun.h>

#include "internal.hpp"

namespace {

// A chunk is [prev_size][size | flags][payload...], 16-byte aligned, so payloads are
// 16-byte aligned too. prev_size is meaningful only while the previous chunk is free; a
// free chunk keeps its free-list links in its payload. No two free chunks are adjacent.
struct Chunk {
    uint64_t prev_size;
    uint64_t size_flags;
    Chunk* next_free; // only while free
    Chunk* prev_free; // only while free
};

constexpr uint64_t in_use_flag = 1;
constexpr uint64_t prev_in_use_flag = 2;
constexpr uint64_t flag_mask = 15;
constexpr size_t header_size = 16;
constexpr size_t min_chunk = sizeof(Chunk);
constexpr size_t bin_count = 64;

Chunk* bins[bin_count];
uint64_t nonempty_bins; // bit i: bins[i] has a chunk
uintptr_t heap_begin;
Chunk* sentinel; // a permanently in-use header marking the end
size_t bytes_in_use;

size_t chunk_size(const Chunk* c)
{
    return c->size_flags & ~flag_mask;
}
bool in_use(const Chunk* c)
{
    return (c->size_flags & in_use_flag) != 0;
}
Chunk* at(uintptr_t address)
{
    return reinterpret_cast<Chunk*>(address);
}
Chunk* next_chunk(Chunk* c)
{
    return at(reinterpret_cast<uintptr_t>(c) + chunk_size(c));
}
void* payload(Chunk* c)
{
    return reinterpret_cast<char*>(c) + header_size;
}

// Bin i holds chunks with sizes in [2^i, 2^(i+1)).
unsigned bin_index(size_t size)
{
    return 63u - static_cast<unsigned>(__builtin_clzll(size));
}

void bin_insert(Chunk* c)
{
    const unsigned index = bin_index(chunk_size(c));
    c->prev_free = nullptr;
    c->next_free = bins[index];
    if (bins[index] != nullptr)
        bins[index]->prev_free = c;
    bins[index] = c;
    nonempty_bins |= uint64_t{1} << index;
}

void bin_remove(Chunk* c)
{
    const unsigned index = bin_index(chunk_size(c));
    if (c->prev_free != nullptr)
        c->prev_free->next_free = c->next_free;
    else
        bins[index] = c->next_free;
    if (c->next_free != nullptr)
        c->next_free->prev_free = c->prev_free;
    if (bins[index] == nullptr)
        nonempty_bins &= ~(uint64_t{1} << index);
}

// Chunk size for a request, or 0 if the request cannot be satisfied by any heap.
size_t chunk_size_for(size_t request)
{
    if (request > SIZE_MAX / 2)
        return 0;
    const size_t size = (request + header_size + 15) & ~size_t{15};
    return size < min_chunk ? min_chunk : size;
}

Chunk* find_free(size_t size)
{
    const unsigned index = bin_index(size);
    // The chunk's own bin may hold chunks smaller than size: search it first-fit.
    for (Chunk* c = bins[index]; c != nullptr; c = c->next_free) {
        if (chunk_size(c) >= size)
            return c;
    }
    // Every chunk in a higher bin is large enough.
    const uint64_t higher = index + 1 < bin_count ? nonempty_bins & (~uint64_t{0} << (index + 1)) : 0;
    if (higher == 0)
        return nullptr;
    return bins[__builtin_ctzll(higher)];
}

// Marks a chunk free, merges it with free neighbours and puts the result in its bin.
void release(Chunk* c)
{
    bytes_in_use -= chunk_size(c);
    size_t size = chunk_size(c);
    Chunk* next = next_chunk(c);
    if (!in_use(next)) {
        bin_remove(next);
        size += chunk_size(next);
    }
    if ((c->size_flags & prev_in_use_flag) == 0) {
        Chunk* prev = at(reinterpret_cast<uintptr_t>(c) - c->prev_size);
        bin_remove(prev);
        size += chunk_size(prev);
        c = prev;
    }
    // The neighbour before a free chunk is always in use: free chunks never touch.
    c->size_flags = size | prev_in_use_flag;
    next = next_chunk(c);
    next->prev_size = size;
    next->size_flags &= ~prev_in_use_flag;
    bin_insert(c);
}

// Shrinks an in-use chunk to size, returning the tail to the heap if it can stand alone.
void trim(Chunk* c, size_t size)
{
    const size_t current = chunk_size(c);
    if (current - size < min_chunk)
        return;
    c->size_flags = size | (c->size_flags & flag_mask);
    Chunk* tail = next_chunk(c);
    tail->size_flags = (current - size) | in_use_flag | prev_in_use_flag;
    release(tail);
}

Chunk* allocate_chunk(size_t size)
{
    Chunk* c = find_free(size);
    if (c == nullptr)
        return nullptr;
    bin_remove(c);
    c->size_flags |= in_use_flag;
    next_chunk(c)->size_flags |= prev_in_use_flag;
    bytes_in_use += chunk_size(c);
    trim(c, size);
    return c;
}

// Guest-program pointers are checked before use: a bad free ends the VM with a message
// instead of silently corrupting the heap.
Chunk* owning_chunk(void* pointer, const char* caller)
{
    const auto address = reinterpret_cast<uintptr_t>(pointer);
    const auto end = reinterpret_cast<uintptr_t>(sentinel);
    Chunk* c = at(address - header_size);
    if (sentinel == nullptr || address < heap_begin + header_size || address >= end ||
        address % 16 != 0 || !in_use(c) || chunk_size(c) < min_chunk ||
        chunk_size(c) > end - (address - header_size))
        ukrun_panic("%s(): invalid or already freed pointer %p", caller, pointer);
    return c;
}

bool is_power_of_two(size_t value)
{
    return value != 0 && (value & (value - 1)) == 0;
}

} // namespace

namespace ukrun {

void heap_init(const ukrun_boot_info& info)
{
    const uintptr_t begin = (info.heap_start + 15) & ~uintptr_t{15};
    const uintptr_t end = info.heap_end & ~uintptr_t{15};
    if (info.heap_end <= info.heap_start || end <= begin || end - begin < min_chunk + header_size)
        return; // No heap: every allocation fails.
    heap_begin = begin;
    sentinel = at(end - header_size);
    Chunk* first = at(begin);
    first->size_flags = (end - header_size - begin) | in_use_flag | prev_in_use_flag;
    sentinel->size_flags = in_use_flag;
    bytes_in_use = chunk_size(first);
    release(first);
}

} // namespace ukrun

extern "C" {

void* malloc(size_t size)
{
    const size_t needed = chunk_size_for(size);
    if (needed == 0)
        return nullptr;
    Chunk* c = allocate_chunk(needed);
    return c == nullptr ? nullptr : payload(c);
}

void free(void* pointer)
{
    if (pointer == nullptr)
        return;
    release(owning_chunk(pointer, "free"));
}

void* calloc(size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total))
        return nullptr;
    void* pointer = malloc(total);
    // Freed chunks are reused dirty, so zero even though the heap started out zeroed.
    if (pointer != nullptr)
        memset(pointer, 0, total);
    return pointer;
}

void* realloc(void* pointer, size_t size)
{
    if (pointer == nullptr)
        return malloc(size);
    Chunk* c = owning_chunk(pointer, "realloc");
    if (size == 0) {
        release(c);
        return nullptr;
    }
    const size_t needed = chunk_size_for(size);
    if (needed == 0)
        return nullptr;
    if (chunk_size(c) < needed) {
        // Grow in place into a free successor when it is big enough.
        Chunk* next = next_chunk(c);
        if (!in_use(next) && chunk_size(c) + chunk_size(next) >= needed) {
            bin_remove(next);
            const size_t merged = chunk_size(c) + chunk_size(next);
            bytes_in_use += chunk_size(next);
            c->size_flags = merged | (c->size_flags & flag_mask);
            next_chunk(c)->size_flags |= prev_in_use_flag;
        } else {
            void* moved = malloc(size);
            if (moved == nullptr)
                return nullptr;
            memcpy(moved, pointer, chunk_size(c) - header_size);
            release(c);
            return moved;
        }
    }
    trim(c, needed);
    return pointer;
}

void* aligned_alloc(size_t alignment, size_t size)
{
    if (!is_power_of_two(alignment))
        return nullptr;
    if (alignment <= 16)
        return malloc(size);
    // Room for the request plus a leading gap of at least one minimal chunk.
    if (size > SIZE_MAX / 4 || alignment > SIZE_MAX / 4)
        return nullptr;
    void* raw = malloc(size + 2 * alignment);
    if (raw == nullptr)
        return nullptr;
    const auto raw_address = reinterpret_cast<uintptr_t>(raw);
    uintptr_t aligned = (raw_address + alignment - 1) & ~(uintptr_t{alignment} - 1);
    if (aligned == raw_address)
        return raw;
    if (aligned - raw_address < min_chunk)
        aligned += alignment;
    // Split off the leading gap as a free chunk of its own.
    Chunk* c = at(raw_address - header_size);
    const size_t lead = aligned - raw_address;
    const size_t total = chunk_size(c);
    c->size_flags = lead | (c->size_flags & flag_mask);
    Chunk* result = next_chunk(c);
    result->size_flags = (total - lead) | in_use_flag | prev_in_use_flag;
    release(c); // accounts for the gap only; the aligned chunk stays in use
    trim(result, chunk_size_for(size));
    return payload(result);
}

int posix_memalign(void** result, size_t alignment, size_t size)
{
    constexpr int einval = 22; // errno values of Linux, which C programs expect
    constexpr int enomem = 12;
    if (!is_power_of_two(alignment) || alignment % sizeof(void*) != 0)
        return einval;
    void* pointer = aligned_alloc(alignment, size);
    if (pointer == nullptr)
        return enomem;
    *result = pointer;
    return 0;
}

size_t ukrun_heap_used(void)
{
    return bytes_in_use;
}

} // extern "C"
