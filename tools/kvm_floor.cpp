// kvm-floor: the least work any KVM monitor does to run a guest to its first exit, as a timing baseline.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include <fmt/core.h>

namespace {

constexpr std::size_t guest_memory_size = 64 * 1024;
constexpr std::uint64_t entry_address = 0x1000;
constexpr std::uint8_t hlt_opcode = 0xf4;

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Owns an mmap'd region.
class Mapping {
 public:
  Mapping(void* addr, std::size_t size) : addr_(addr), size_(size) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (addr_ != MAP_FAILED) munmap(addr_, size_);
  }
  void* get() const { return addr_; }

 private:
  void* addr_;
  std::size_t size_;
};

int checked_ioctl(int fd, unsigned long request, const char* what, unsigned long arg = 0) {
  int result = ioctl(fd, request, arg);
  if (result < 0) fail(what);
  return result;
}

void run_to_first_exit() {
  Fd kvm{open("/dev/kvm", O_RDWR | O_CLOEXEC)};
  if (kvm.get() < 0) fail("open /dev/kvm");

  Fd vm{checked_ioctl(kvm.get(), KVM_CREATE_VM, "KVM_CREATE_VM")};

  Mapping memory{mmap(nullptr, guest_memory_size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
                 guest_memory_size};
  if (memory.get() == MAP_FAILED) fail("mmap guest memory");
  static_cast<std::uint8_t*>(memory.get())[entry_address] = hlt_opcode;

  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = guest_memory_size;
  region.userspace_addr = reinterpret_cast<std::uintptr_t>(memory.get());
  checked_ioctl(vm.get(), KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION",
                reinterpret_cast<unsigned long>(&region));

  Fd vcpu{checked_ioctl(vm.get(), KVM_CREATE_VCPU, "KVM_CREATE_VCPU")};
  int run_size = checked_ioctl(kvm.get(), KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE");
  auto run_mapping_size = static_cast<std::size_t>(run_size);
  Mapping run_mapping{mmap(nullptr, run_mapping_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu.get(), 0),
                      run_mapping_size};
  if (run_mapping.get() == MAP_FAILED) fail("mmap kvm_run");
  const auto* run = static_cast<const kvm_run*>(run_mapping.get());

  // Real mode, flat code segment at 0, so the hlt at entry_address is the first instruction.
  kvm_sregs sregs{};
  checked_ioctl(vcpu.get(), KVM_GET_SREGS, "KVM_GET_SREGS", reinterpret_cast<unsigned long>(&sregs));
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  checked_ioctl(vcpu.get(), KVM_SET_SREGS, "KVM_SET_SREGS", reinterpret_cast<unsigned long>(&sregs));

  kvm_regs regs{};
  regs.rip = entry_address;
  regs.rflags = 0x2;  // bit 1 is reserved and must be set
  checked_ioctl(vcpu.get(), KVM_SET_REGS, "KVM_SET_REGS", reinterpret_cast<unsigned long>(&regs));

  checked_ioctl(vcpu.get(), KVM_RUN, "KVM_RUN");
  if (run->exit_reason != KVM_EXIT_HLT) {
    throw std::runtime_error(fmt::format("first exit is reason {}, expected KVM_EXIT_HLT ({})",
                                         run->exit_reason, KVM_EXIT_HLT));
  }
}

}  // namespace

int main() {
  try {
    run_to_first_exit();
    return 0;
  } catch (const std::exception& error) {
    fmt::print(stderr, "kvm-floor: {}\n", error.what());
    return 1;
  }
}
