// Exercises the heap: mixed sizes, frees in several orders, realloc, alignment, calloc, new/delete.

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <new>

#include <ukrun/ukrun.h>

namespace {

uint64_t random_state = 0x2545f4914f6cdd1dull;

uint64_t next_random()
{
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return random_state;
}

unsigned char pattern(size_t slot, size_t offset)
{
    return static_cast<unsigned char>(slot * 31 + offset * 7 + 1);
}

bool fail(const char* what, size_t slot)
{
    printf("heap: FAIL %s (slot %zu)\n", what, slot);
    return false;
}

struct Allocation {
    unsigned char* data;
    size_t size;
};

constexpr size_t slot_count = 512;
Allocation slots[slot_count];

void fill(size_t slot)
{
    for (size_t i = 0; i < slots[slot].size; ++i)
        slots[slot].data[i] = pattern(slot, i);
}

bool intact(size_t slot, size_t size)
{
    for (size_t i = 0; i < size; ++i) {
        if (slots[slot].data[i] != pattern(slot, i))
            return false;
    }
    return true;
}

// Random malloc/free/realloc over many slots, checking every byte survives.
bool random_churn()
{
    for (int round = 0; round < 20000; ++round) {
        const size_t slot = next_random() % slot_count;
        Allocation& a = slots[slot];
        const uint64_t choice = next_random() % 3;
        // Mostly small sizes, sometimes up to 64 KiB.
        const size_t size = next_random() % 8 == 0 ? next_random() % 65536 : next_random() % 256;
        if (a.data == nullptr) {
            a.data = static_cast<unsigned char*>(malloc(size));
            if (a.data == nullptr)
                return fail("malloc returned NULL", slot);
            if (reinterpret_cast<uintptr_t>(a.data) % 16 != 0)
                return fail("malloc result not 16-byte aligned", slot);
            a.size = size;
            fill(slot);
        } else if (choice == 0) {
            if (!intact(slot, a.size))
                return fail("content changed before free", slot);
            free(a.data);
            a.data = nullptr;
        } else {
            if (!intact(slot, a.size))
                return fail("content changed before realloc", slot);
            auto* grown = static_cast<unsigned char*>(realloc(a.data, size + 1));
            if (grown == nullptr)
                return fail("realloc returned NULL", slot);
            a.data = grown;
            const size_t kept = a.size < size + 1 ? a.size : size + 1;
            if (!intact(slot, kept))
                return fail("realloc lost content", slot);
            a.size = size + 1;
            fill(slot);
        }
    }
    for (size_t slot = 0; slot < slot_count; ++slot) {
        if (slots[slot].data != nullptr) {
            if (!intact(slot, slots[slot].size))
                return fail("content changed before final free", slot);
            free(slots[slot].data);
            slots[slot].data = nullptr;
        }
    }
    return true;
}

bool alignment_and_calloc()
{
    for (size_t alignment = 16; alignment <= 65536; alignment *= 2) {
        void* p = aligned_alloc(alignment, 100);
        if (p == nullptr || reinterpret_cast<uintptr_t>(p) % alignment != 0)
            return fail("aligned_alloc", alignment);
        memset(p, 0xab, 100);
        void* q = nullptr;
        if (posix_memalign(&q, alignment, 3000) != 0 || reinterpret_cast<uintptr_t>(q) % alignment != 0)
            return fail("posix_memalign", alignment);
        free(p);
        free(q);
    }
    // Dirty a block, free it, and check calloc hands back zeros.
    void* dirty = malloc(4096);
    memset(dirty, 0xff, 4096);
    free(dirty);
    auto* zeroed = static_cast<unsigned char*>(calloc(64, 64));
    if (zeroed == nullptr)
        return fail("calloc returned NULL", 0);
    for (size_t i = 0; i < 4096; ++i) {
        if (zeroed[i] != 0)
            return fail("calloc memory not zero", i);
    }
    free(zeroed);
    if (calloc(SIZE_MAX / 2, 4) != nullptr)
        return fail("calloc overflow not detected", 0);
    if (malloc(SIZE_MAX - 8) != nullptr)
        return fail("huge malloc succeeded", 0);
    return true;
}

struct alignas(64) Aligned {
    unsigned char bytes[64];
};

struct Counted {
    static int live;
    int value;
    explicit Counted(int v) : value(v) { ++live; }
    ~Counted() { --live; }
};
int Counted::live = 0;

bool new_and_delete()
{
    Counted* one = new Counted(7);
    Counted* many = new Counted[10]{Counted(1), Counted(2), Counted(3), Counted(4), Counted(5),
                                    Counted(6), Counted(7), Counted(8), Counted(9), Counted(10)};
    if (Counted::live != 11 || one->value != 7 || many[9].value != 10)
        return fail("new constructed wrongly", 0);
    delete one;
    delete[] many;
    if (Counted::live != 0)
        return fail("delete did not destroy", 0);
    Aligned* aligned = new Aligned;
    if (reinterpret_cast<uintptr_t>(aligned) % 64 != 0)
        return fail("aligned new", 64);
    delete aligned;
    int* nothrow = new (std::nothrow) int(5);
    if (nothrow == nullptr || *nothrow != 5)
        return fail("nothrow new", 0);
    delete nothrow;
    return true;
}

} // namespace

int main()
{
    printf("heap: %zu bytes in use at start\n", ukrun_heap_used());
    const size_t used_at_start = ukrun_heap_used();
    if (!random_churn() || !alignment_and_calloc() || !new_and_delete())
        return 1;
    // Every chunk was freed, so coalescing must give back exactly the starting state.
    if (ukrun_heap_used() != used_at_start) {
        printf("heap: FAIL %zu bytes still in use after freeing everything\n", ukrun_heap_used());
        return 1;
    }
    const ukrun_boot_info* info = ukrun_get_boot_info();
    // The whole heap must be one chunk again: allocate nearly all of it at once.
    const size_t heap_bytes = static_cast<size_t>(info->heap_end - info->heap_start);
    void* everything = malloc(heap_bytes - 4096);
    if (everything == nullptr) {
        printf("heap: FAIL free space did not coalesce (%zu bytes heap)\n", heap_bytes);
        return 1;
    }
    free(everything);
    printf("heap: ok\n");
    return 0;
}
