// The C++ runtime pieces g++ expects without libstdc++: operator new/delete and the __cxa hooks.

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <new>

#include <ukrun/ukrun.h>

namespace {

// Without exceptions a throwing new cannot report failure, so running out of heap ends the VM.
void* allocate_or_panic(size_t size)
{
    void* pointer = malloc(size == 0 ? 1 : size);
    if (pointer == nullptr)
        ukrun_panic("out of memory: operator new(%zu) failed (heap in use: %zu bytes)", size,
                    ukrun_heap_used());
    return pointer;
}

void* allocate_aligned_or_panic(size_t size, std::align_val_t alignment)
{
    const auto align = static_cast<size_t>(alignment);
    void* pointer = aligned_alloc(align, size == 0 ? 1 : size);
    if (pointer == nullptr)
        ukrun_panic("out of memory: operator new(%zu, align %zu) failed", size, align);
    return pointer;
}

} // namespace

namespace std {
// Normally defined in libsupc++, which a unikernel does not link.
const nothrow_t nothrow{};
} // namespace std

void* operator new(size_t size) { return allocate_or_panic(size); }
void* operator new[](size_t size) { return allocate_or_panic(size); }
void* operator new(size_t size, std::align_val_t alignment) { return allocate_aligned_or_panic(size, alignment); }
void* operator new[](size_t size, std::align_val_t alignment) { return allocate_aligned_or_panic(size, alignment); }

void* operator new(size_t size, const std::nothrow_t&) noexcept { return malloc(size == 0 ? 1 : size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return malloc(size == 0 ? 1 : size); }
void* operator new(size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept
{
    return aligned_alloc(static_cast<size_t>(alignment), size == 0 ? 1 : size);
}
void* operator new[](size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept
{
    return aligned_alloc(static_cast<size_t>(alignment), size == 0 ? 1 : size);
}

void operator delete(void* pointer) noexcept { free(pointer); }
void operator delete[](void* pointer) noexcept { free(pointer); }
void operator delete(void* pointer, size_t) noexcept { free(pointer); }
void operator delete[](void* pointer, size_t) noexcept { free(pointer); }
void operator delete(void* pointer, std::align_val_t) noexcept { free(pointer); }
void operator delete[](void* pointer, std::align_val_t) noexcept { free(pointer); }
void operator delete(void* pointer, size_t, std::align_val_t) noexcept { free(pointer); }
void operator delete[](void* pointer, size_t, std::align_val_t) noexcept { free(pointer); }
void operator delete(void* pointer, const std::nothrow_t&) noexcept { free(pointer); }
void operator delete[](void* pointer, const std::nothrow_t&) noexcept { free(pointer); }
void operator delete(void* pointer, std::align_val_t, const std::nothrow_t&) noexcept { free(pointer); }
void operator delete[](void* pointer, std::align_val_t, const std::nothrow_t&) noexcept { free(pointer); }

extern "C" {

void __cxa_pure_virtual()
{
    ukrun_panic("pure virtual function called");
}

void __cxa_deleted_virtual()
{
    ukrun_panic("deleted virtual function called");
}

// new T[n] with an n whose byte count overflows; g++ calls this even without exceptions.
void __cxa_throw_bad_array_new_length()
{
    ukrun_panic("new[]: array length too large");
}

// Guards for function-local statics, for code built without -fno-threadsafe-statics.
// There is one thread, so the first byte records "initialised" and nothing waits.
int __cxa_guard_acquire(uint64_t* guard)
{
    return *reinterpret_cast<volatile char*>(guard) == 0 ? 1 : 0;
}

void __cxa_guard_release(uint64_t* guard)
{
    *reinterpret_cast<volatile char*>(guard) = 1;
}

void __cxa_guard_abort(uint64_t*) {}

} // extern "C"
