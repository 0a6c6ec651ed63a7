// The vCPU run loop: decoded exits dispatched to hypercalls, devices and fault diagnosis.
#include "run_loop.hpp"

#include <poll.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "elf_image.hpp"
#include "errors.hpp"
#include "guest_fault.hpp"
#include "hypercalls.hpp"
#include "shutdown_signal.hpp"
#include "vcpu_exit.hpp"

namespace ukrun {

namespace {

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
        // Rebuilt per wait (a NIC without posted rx buffers drops out), in storage kept
        // across polls: this runs once per packet on an idle network.
        auto& fds = poll_fds_;
        fds.clear();
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
    std::vector<pollfd> poll_fds_;
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

RunResult run_vcpu(KvmVcpu& vcpu, const GuestMemory& memory, const GuestLayout& layout,
                   std::span<const std::byte> image, DeviceSet& devices, const VmConfig& config, BootTrace& trace)
{
    RunLoop loop(vcpu, memory, layout, image, devices, config, trace);
    VmOutcome outcome = loop.run();
    return {std::move(outcome), loop.stats()};
}

} // namespace ukrun
