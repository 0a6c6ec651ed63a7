// The boot sequence, top to bottom: image, devices, VM, memory, CPU state, boot info, sandbox, run.
#include "vm.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "boot_trace.hpp"
#include "cpuid.hpp"
#include "device_set.hpp"
#include "elf_image.hpp"
#include "errors.hpp"
#include "kvm.hpp"
#include "run_loop.hpp"
#include "sandbox.hpp"
#include "shutdown_signal.hpp"
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
    const RunResult result = run_vcpu(vcpu, memory, layout, image.bytes(), devices, config, trace);
    trace.mark("run");
    if (config.trace_boot)
        fmt::print(stderr, "ukrun: {}\n", trace.summary());
    if (config.print_stats)
        fmt::print(stderr, "ukrun: {}\n", result.stats);
    return result.outcome;
}

} // namespace ukrun
