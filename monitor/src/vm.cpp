// The boot sequence (image, memory, CPU state, boot info) and the vCPU run loop.
#include "vm.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <csignal>
#include <cxxabi.h>
#include <map>

#include <fmt/format.h>

#include "boot_trace.hpp"
#include "cpuid.hpp"
#include "device_set.hpp"
#include "elf_image.hpp"
#include "errors.hpp"
#include "guest_fault.hpp"
#include "hypercalls.hpp"
#include "kvm.hpp"
#include "sandbox.hpp"
#include "shutdown_signal.hpp"
#include "vcpu_exit.hpp"
#include "x86_setup.hpp"

namespace ukrun {

namespace {

// The unikernel ELF, mapped read-only for the lifetime of the run (symbols are looked up
// lazily from it if the guest faults).
class ImageFile {
public:
    static ImageFile open(const std::string& path)
    {
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd.valid())
            throw ImageError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
        struct stat st{};
        if (::fstat(fd.get(), &st) < 0)
            throw ImageError(fmt::format("{}: cannot stat: {}", path, std::strerror(errno)));
        if (!S_ISREG(st.st_mode))
            throw ImageError(fmt::format("{}: not a regular file", path));
        ImageFile image;
        if (st.st_size > 0) {
            const auto size = static_cast<std::size_t>(st.st_size);
            void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
            if (addr == MAP_FAILED)
                throw ImageError(fmt::format("{}: cannot map: {}", path, std::strerror(errno)));
            image.mapping_ = Mapping(addr, size);
        }
        return image;
    }
    std::span<const std::byte> bytes() const noexcept { return {mapping_.data(), mapping_.size()}; }

private:
    Mapping mapping_;
};

Mapping map_guest_ram(uint64_t size)
{
    // Lazily backed: untouched guest memory costs nothing.
    void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (addr == MAP_FAILED)
        throw HostError(fmt::format("cannot map {} MiB of guest memory: {}", size >> 20, std::strerror(errno)));
    return Mapping(addr, size);
}

std::string image_name(const std::string& path)
{
    const auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// argv as consecutive NUL-terminated strings, argv[0] the image name.
std::string build_cmdline(const VmConfig& config)
{
    std::string cmdline = image_name(config.kernel_path);
    cmdline.push_back('\0');
    for (const auto& arg : config.guest_args) {
        cmdline += arg;
        cmdline.push_back('\0');
    }
    if (cmdline.size() > UKRUN_CMDLINE_MAX)
        throw UsageError(fmt::format("unikernel arguments take {} bytes, more than the limit of {}", cmdline.size(),
                                     UKRUN_CMDLINE_MAX));
    return cmdline;
}

void load_segments(const GuestMemory& memory, std::span<const std::byte> image, const LoadPlan& plan)
{
    // parse_elf checked every range against the file and guest memory; bss is already
    // zero because guest RAM is fresh anonymous memory.
    for (const auto& segment : plan.segments)
        memory.write_bytes({segment.guest_addr}, image.subspan(segment.file_offset, segment.file_size));
}

// KVM's PVM backend runs CPL 3 natively and never intercepts CPUID there: the guest sees
// the host's answers whatever table is set, so setting one (~40 us) would be work whose
// result nobody reads. Everywhere else CPUID exits and the curated table is what the
// guest sees.
bool cpuid_is_intercepted()
{
    return ::access("/sys/module/kvm_pvm", F_OK) != 0;
}

ukrun_boot_info make_boot_info(const GuestLayout& layout, const std::string& cmdline, uint64_t tsc_hz)
{
    ukrun_boot_info info{};
    info.abi_version = UKRUN_ABI_VERSION;
    info.size = sizeof(info);
    info.mem_size = layout.mem_size;
    info.heap_start = layout.heap_start;
    info.heap_end = layout.heap_end;
    info.stack_top = layout.stack_top;
    info.stack_size = layout.stack_top - layout.stack_bottom;
    info.tsc_hz = tsc_hz;
    info.cmdline = layout::kCmdline;
    info.cmdline_len = static_cast<uint32_t>(cmdline.size());
    info.argc = static_cast<uint32_t>(std::count(cmdline.begin(), cmdline.end(), '\0'));
    return info;
}

// The monitor side of poll and notify: device queues and the host fds behind them.
class DeviceHost final : public HypercallHost {
public:
    explicit DeviceHost(DeviceSet& devices) : devices_(devices)
    {
        for (std::size_t i = 0; i < devices_.size(); ++i)
            if (devices_[i].type() == UKRUN_DEVICE_NET)
                waits_.push_back({i});
    }

    PollResult poll(uint64_t timeout_ns) override
    {
        for (const auto& w : waits_)
            devices_[w.device].collect();
        PollResult result{ready(), shutdown_events()};
        if (result.ready != 0 || result.events != 0 || timeout_ns == 0)
            return result;
        std::vector<pollfd> fds;
        fds.reserve(waits_.size() + 1);
        fds.push_back({ShutdownSignal::fd(), POLLIN, 0});
        for (const auto& w : waits_)
            if (const int fd = devices_[w.device].wait_fd(); fd >= 0)
                fds.push_back({fd, POLLIN, 0});
        timespec timeout{static_cast<time_t>(timeout_ns / 1'000'000'000ull),
                         static_cast<long>(timeout_ns % 1'000'000'000ull)};
        // The host sleeps here: an idle guest costs no CPU.
        if (::ppoll(fds.data(), fds.size(), &timeout, nullptr) > 0)
            result.ready = ready();
        result.events = shutdown_events();
        return result;
    }

    void notify(uint32_t device, uint32_t queue) override
    {
        if (device >= devices_.size())
            throw GuestViolation(fmt::format("notify hypercall for device {}: the unikernel has {} device(s)", device,
                                             devices_.size()));
        ++notifications_;
        devices_[device].notify(queue);
    }

    uint64_t notifications() const noexcept { return notifications_; }

private:
    static uint32_t shutdown_events() { return ShutdownSignal::requested() != 0 ? UKRUN_POLL_SHUTDOWN : 0; }

    uint64_t ready()
    {
        uint64_t mask = 0;
        for (const auto& w : waits_)
            if (devices_[w.device].deliver())
                mask |= 1ull << w.device;
        return mask;
    }

    // Devices whose host side can produce work for the guest (net receive).
    struct Wait {
        std::size_t device;
    };
    DeviceSet& devices_;
    std::vector<Wait> waits_;
    uint64_t notifications_ = 0;
};

class RunLoop {
public:
    RunLoop(KvmVcpu& vcpu, const GuestMemory& memory, const GuestLayout& layout, std::span<const std::byte> image,
            DeviceSet& devices, const VmConfig& config, BootTrace& trace)
        : trace_(trace), vcpu_(vcpu), memory_(memory), layout_(layout), image_(image), devices_(devices), host_(devices),
          hypercalls_(memory, host_, config.console_fd)
    {
    }

    VmOutcome run()
    {
        for (;;) {
            const bool ran = vcpu_.run();
            if (ShutdownSignal::requested() != 0) {
                ShutdownSignal::rearm();
                if (ShutdownSignal::grace_expired())
                    return stopped_by_signal();
            }
            if (!ran)
                continue;
            if (!first_exit_seen_) {
                first_exit_seen_ = true;
                trace_.mark("first-exit");
            }
            const VcpuExit exit = decode_exit(vcpu_.run_area());
            ++exits_[exit_kind_name(exit)];
            try {
                if (auto outcome = std::visit([this](const auto& e) { return handle(e); }, exit))
                    return *outcome;
            } catch (const GuestViolation& violation) {
                return {UKRUN_EXIT_GUEST_VIOLATION, fmt::format("guest violation: {}{}", violation.what(), where())};
            }
        }
    }

    std::string stats() const
    {
        std::string line = "stats: exits";
        uint64_t total = 0;
        for (const auto& [kind, count] : exits_) {
            line += fmt::format(" {}={}", kind, count);
            total += count;
        }
        line += fmt::format(" total={}; hypercalls", total);
        const auto& counts = hypercalls_.stats().by_number;
        for (uint32_t nr = 1; nr < counts.size(); ++nr)
            if (counts[nr] != 0)
                line += fmt::format(" {}={}", hypercall_name(nr), counts[nr]);
        line += fmt::format("; notifications={}", host_.notifications());
        for (std::size_t i = 0; i < devices_.size(); ++i)
            line += fmt::format("; {}", devices_[i].stats());
        return line;
    }

private:
    using Result = std::optional<VmOutcome>;

    Result handle(const IoExit& io)
    {
        if (io.port == UKRUN_FAULT_PORT && io.is_out)
            return fault();
        const HypercallAction action = hypercalls_.handle(io.port, io.is_out, io.size, io.value);
        if (const auto* exited = std::get_if<GuestExited>(&action))
            return VmOutcome{exited->status, {}};
        if (const auto* aborted = std::get_if<GuestAborted>(&action))
            return VmOutcome{UKRUN_EXIT_GUEST_ABORT, fmt::format("guest aborted: {}", aborted->message)};
        return std::nullopt;
    }
    Result handle(const MmioExit& mmio)
    {
        if (mmio.address < layout_.mem_size)
            return failure(fmt::format("guest {} of {} bytes at 0x{:x}, memory the monitor protects",
                                       mmio.is_write ? "write" : "read", mmio.length, mmio.address));
        return failure(fmt::format("guest {} of guest-physical address 0x{:x}, outside guest memory",
                                   mmio.is_write ? "write" : "read", mmio.address));
    }
    Result handle(const HaltExit&) { return failure("unexpected hlt"); }
    Result handle(const ShutdownExit&) { return failure("triple fault (the CPU could not deliver an exception)"); }
    Result handle(const InternalErrorExit& e)
    {
        return failure(fmt::format("KVM internal error, suberror {}{}", e.suberror,
                                   e.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (instruction emulation failed)" : ""));
    }
    Result handle(const FailEntryExit& e)
    {
        return failure(fmt::format("KVM could not enter the guest (hardware reason 0x{:x})", e.reason));
    }
    Result handle(const InterruptedExit&) { return std::nullopt; }
    Result handle(const UnexpectedExit& e) { return failure(fmt::format("unexpected KVM exit reason {}", e.reason)); }

    VmOutcome stopped_by_signal() const
    {
        const int signal = ShutdownSignal::requested();
        return {128 + signal, fmt::format("stopped by signal {} ({}): the unikernel did not exit within the grace period",
                                          signal, ::strsignal(signal))};
    }

    VmOutcome failure(const std::string& what) const
    {
        return {UKRUN_EXIT_VM_FAILURE, fmt::format("vm failure: {}{}", what, where())};
    }

    VmOutcome fault() const
    {
        const kvm_regs regs = vcpu_.get_regs();
        const kvm_sregs sregs = vcpu_.get_sregs();
        const GuestFault guest_fault = read_guest_fault(memory_, regs, sregs);
        return {UKRUN_EXIT_GUEST_FAULT, describe_guest_fault(guest_fault, layout_, [this](uint64_t address) {
                    return symbol(address);
                })};
    }

    std::string symbol(uint64_t address) const
    {
        auto hit = find_symbol(image_, address);
        if (!hit)
            return {};
        std::string name = hit->name;
        int status = 0;
        if (char* demangled = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status)) {
            name = demangled;
            std::free(demangled);
        }
        return hit->offset ? fmt::format("{}+0x{:x}", name, hit->offset) : name;
    }

    // " at rip 0x... <symbol>" for diagnoses of the guest's last instruction.
    std::string where() const
    {
        const uint64_t rip = vcpu_.get_regs().rip;
        std::string sym = symbol(rip);
        return sym.empty() ? fmt::format(" at rip 0x{:x}", rip) : fmt::format(" at rip 0x{:x} <{}>", rip, sym);
    }

    BootTrace& trace_;
    bool first_exit_seen_ = false;
    KvmVcpu& vcpu_;
    const GuestMemory& memory_;
    const GuestLayout& layout_;
    std::span<const std::byte> image_;
    DeviceSet& devices_;
    DeviceHost host_;
    Hypercalls hypercalls_;
    std::map<std::string, uint64_t> exits_;
};

} // namespace

VmOutcome run_unikernel(const VmConfig& config)
{
    BootTrace trace(config.trace_boot);

    // 1. Image: parse and check the ABI before any VM exists.
    const ImageFile image = ImageFile::open(config.kernel_path);
    LoadPlan plan;
    try {
        plan = parse_elf(image.bytes(), image_limit(config.mem_size));
    } catch (const ImageError& e) {
        throw ImageError(fmt::format("{}: {}", config.kernel_path, e.what()));
    }
    const std::string cmdline = build_cmdline(config);
    trace.mark("parse-elf");

    // 2. Devices: exactly those the manifest declares, each with its backing.
    DeviceSet devices(plan.manifest, config);
    const GuestLayout layout = plan_layout(config.mem_size, plan, devices.ring_bytes());
    trace.mark("open-devices");

    // 3. VM and memory. The monitor's tables live in a read-only slot.
    const Kvm kvm = Kvm::open();
    const KvmVm vm = kvm.create_vm();
    trace.mark("create-vm");
    const Mapping ram = map_guest_ram(config.mem_size);
    vm.set_memory(0, 0, ram.data(), layout::kReadOnlyEnd, true);
    vm.set_memory(1, layout::kReadOnlyEnd, ram.data() + layout::kReadOnlyEnd, config.mem_size - layout::kReadOnlyEnd);
    const GuestMemory memory(ram.data(), config.mem_size);
    trace.mark("map-memory");

    // 4. Guest memory contents: image, CPU tables, page tables.
    load_segments(memory, image.bytes(), plan);
    write_cpu_tables(memory);
    const uint64_t cr3 = build_page_tables(memory, layout);
    trace.mark("load-image");

    // 5. vCPU: curated CPUID, boot info with the TSC frequency, registers at the entry.
    KvmVcpu vcpu = vm.create_vcpu(0);
    trace.mark("create-vcpu");
    const uint32_t tsc_khz = vcpu.tsc_khz();
    if (cpuid_is_intercepted()) {
        vcpu.set_cpuid(curated_cpuid(host_cpuid, tsc_khz));
        trace.mark("set-cpuid");
    }
    ukrun_boot_info boot_info = make_boot_info(layout, cmdline, uint64_t{tsc_khz} * 1000);
    devices.attach(memory, layout.rings_start, boot_info);
    memory.write(GuestAddr{layout::kBootInfo}, boot_info);
    memory.write_bytes({layout::kCmdline}, std::as_bytes(std::span(cmdline)));
    const CpuState cpu = initial_cpu_state(cr3, plan.entry, layout.stack_top, layout::kBootInfo);
    vcpu.set_sregs(cpu.sregs);
    vcpu.set_regs(cpu.regs);
    ShutdownSignal::install(vcpu.run_state(), config.shutdown_grace_ms);
    trace.mark("setup-vcpu");
    if (config.sandbox) {
        enter_sandbox();
        trace.mark("sandbox");
    }

    // 6. Run.
    RunLoop loop(vcpu, memory, layout, image.bytes(), devices, config, trace);
    VmOutcome outcome = loop.run();
    trace.mark("run");
    if (config.trace_boot)
        fmt::print(stderr, "ukrun: {}\n", trace.summary());
    if (config.print_stats)
        fmt::print(stderr, "ukrun: {}\n", loop.stats());
    return outcome;
}

} // namespace ukrun
