// KVM ioctls with errors turned into HostError exceptions.
#include "kvm.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "errors.hpp"

namespace ukrun {

namespace {

[[noreturn]] void fail(const char* what)
{
    throw HostError(fmt::format("{}: {}", what, std::strerror(errno)));
}

template <class Arg>
int checked_ioctl(int fd, unsigned long request, Arg arg, const char* what)
{
    int rc;
    do {
        rc = ::ioctl(fd, request, arg);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        fail(what);
    return rc;
}

} // namespace

Kvm Kvm::open(const char* path)
{
    int fd = ::open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT)
            throw HostError(fmt::format("{} not found: KVM is not available on this host "
                                        "(in a container, add --device /dev/kvm)",
                                        path));
        throw HostError(fmt::format("cannot open {}: {} (in a container, add --device /dev/kvm; otherwise "
                                    "join the kvm group)",
                                    path, std::strerror(err)));
    }
    Kvm kvm{UniqueFd(fd)};
    const int version = ::ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION)
        throw HostError(fmt::format("{} speaks KVM API {}, ukrun needs {}", path, version, KVM_API_VERSION));
    return kvm;
}

KvmVm Kvm::create_vm() const
{
    int vm;
    do {
        vm = ::ioctl(fd_.get(), KVM_CREATE_VM, 0);
    } while (vm < 0 && errno == EINTR);
    if (vm < 0)
        fail("KVM_CREATE_VM");
    UniqueFd vm_fd(vm);
    const int mmap_size = checked_ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
    return KvmVm(std::move(vm_fd), mmap_size);
}

void KvmVm::set_memory(uint32_t slot, uint64_t guest_addr, std::byte* host, uint64_t size, bool readonly) const
{
    kvm_userspace_memory_region region{};
    region.slot = slot;
    region.flags = readonly ? KVM_MEM_READONLY : 0;
    region.guest_phys_addr = guest_addr;
    region.memory_size = size;
    region.userspace_addr = reinterpret_cast<uint64_t>(host);
    checked_ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
}

KvmVcpu KvmVm::create_vcpu(unsigned id) const
{
    const int fd = checked_ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(id), "KVM_CREATE_VCPU");
    UniqueFd vcpu_fd(fd);
    const auto size = static_cast<std::size_t>(vcpu_mmap_size_);
    void* run = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (run == MAP_FAILED)
        fail("mmap of kvm_run");
    return KvmVcpu(std::move(vcpu_fd), Mapping(run, size));
}

KvmVcpu::KvmVcpu(UniqueFd fd, Mapping run) : fd_(std::move(fd)), run_(std::move(run)) {}

bool KvmVcpu::run()
{
    if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return false;
        fail("KVM_RUN");
    }
    return true;
}

kvm_regs KvmVcpu::get_regs() const
{
    kvm_regs regs{};
    checked_ioctl(fd_.get(), KVM_GET_REGS, &regs, "KVM_GET_REGS");
    return regs;
}

void KvmVcpu::set_regs(const kvm_regs& regs) const
{
    checked_ioctl(fd_.get(), KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

kvm_sregs KvmVcpu::get_sregs() const
{
    kvm_sregs sregs{};
    checked_ioctl(fd_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
    return sregs;
}

void KvmVcpu::set_sregs(const kvm_sregs& sregs) const
{
    checked_ioctl(fd_.get(), KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
}

void KvmVcpu::set_cpuid(std::span<const kvm_cpuid_entry2> entries) const
{
    // struct kvm_cpuid2 ends in a flexible array that C++ compilers size differently from C
    // (sizeof 12, entries at 12), which would also change the ioctl number: lay the
    // 8-byte header out by hand and use the kernel's ioctl number.
    constexpr std::size_t kHeaderSize = 8;
    constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, kHeaderSize);
    std::vector<std::byte> buffer(kHeaderSize + entries.size_bytes());
    const auto count = static_cast<uint32_t>(entries.size());
    std::memcpy(buffer.data(), &count, sizeof(count));
    std::memcpy(buffer.data() + kHeaderSize, entries.data(), entries.size_bytes());
    checked_ioctl(fd_.get(), kSetCpuid2, buffer.data(), "KVM_SET_CPUID2");
}

uint32_t KvmVcpu::tsc_khz() const
{
    return static_cast<uint32_t>(checked_ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0, "KVM_GET_TSC_KHZ"));
}

} // namespace ukrun
