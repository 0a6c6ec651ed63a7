// Monitor error types: each carries the documented process exit code it maps to.
#pragma once

#include <stdexcept>
#include <string>

#include <ukrun/abi.h>

namespace ukrun {

enum class ExitCode : int {
    GuestAbort = UKRUN_EXIT_GUEST_ABORT,
    GuestFault = UKRUN_EXIT_GUEST_FAULT,
    GuestViolation = UKRUN_EXIT_GUEST_VIOLATION,
    VmFailure = UKRUN_EXIT_VM_FAILURE,
    Usage = UKRUN_EXIT_USAGE,
    BadImage = UKRUN_EXIT_BAD_IMAGE,
    BadDevice = UKRUN_EXIT_BAD_DEVICE,
    HostError = UKRUN_EXIT_HOST_ERROR,
};

// Host-side failures are exceptions caught once, in main; what() is the one-line message.
class Error : public std::runtime_error {
public:
    Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ExitCode code() const noexcept { return code_; }

private:
    ExitCode code_;
};

struct UsageError : Error {
    explicit UsageError(const std::string& m) : Error(ExitCode::Usage, m) {}
};
struct ImageError : Error {
    explicit ImageError(const std::string& m) : Error(ExitCode::BadImage, m) {}
};
struct DeviceError : Error {
    explicit DeviceError(const std::string& m) : Error(ExitCode::BadDevice, m) {}
};
struct HostError : Error {
    explicit HostError(const std::string& m) : Error(ExitCode::HostError, m) {}
};

// A guest broke the ABI (bad address, unknown hypercall, corrupt ring). Thrown inside the
// run loop and turned into a diagnosis that ends the VM.
struct GuestViolation : Error {
    explicit GuestViolation(const std::string& m) : Error(ExitCode::GuestViolation, m) {}
};

} // namespace ukrun
