// Loads the seccomp filter generated at build time from sandbox_policy.hpp.
#include "sandbox.hpp"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

#include "errors.hpp"

namespace ukrun {

namespace {
// Default action EPERM; see sandbox_policy.hpp for what is allowed.
const sock_filter kFilter[] = {
#include "sandbox_filter.inc"
};
} // namespace

void enter_sandbox()
{
#ifdef UKRUN_SANITIZED
    return; // see UKRUN_SANITIZE in CMakeLists.txt
#endif
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        throw HostError(fmt::format("prctl(PR_SET_NO_NEW_PRIVS): {}", std::strerror(errno)));
    sock_fprog program{static_cast<unsigned short>(std::size(kFilter)), const_cast<sock_filter*>(kFilter)};
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0)
        throw HostError(fmt::format("cannot install the seccomp sandbox: {}", std::strerror(errno)));
}

} // namespace ukrun
