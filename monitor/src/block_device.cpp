// Block requests from the ring to preadv/pwritev/fdatasync on the backing file.
#include "block_device.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "errors.hpp"

namespace ukrun {

namespace {

constexpr uint64_t kHeaderBytes = sizeof(ukrun_block_request_header);

// Copies `len` bytes starting at `offset` of a buffer list out of guest memory.
bool gather(const GuestMemory& memory, const std::vector<GuestBuffer>& buffers, uint64_t len, void* out)
{
    auto* dst = static_cast<std::byte*>(out);
    for (const auto& b : buffers) {
        if (len == 0)
            break;
        const uint64_t n = std::min<uint64_t>(b.len, len);
        std::memcpy(dst, memory.slice(b.addr, n).data(), n);
        dst += n;
        len -= n;
    }
    return len == 0;
}

// The sub-list of `buffers` covering bytes [skip, skip + len).
std::vector<GuestBuffer> slice_buffers(const std::vector<GuestBuffer>& buffers, uint64_t skip, uint64_t len)
{
    std::vector<GuestBuffer> out;
    for (const auto& b : buffers) {
        if (len == 0)
            break;
        if (skip >= b.len) {
            skip -= b.len;
            continue;
        }
        const uint64_t n = std::min<uint64_t>(b.len - skip, len);
        out.push_back({{b.addr.value + skip}, static_cast<uint32_t>(n)});
        len -= n;
        skip = 0;
    }
    return out;
}

// The last byte of the writable area.
std::optional<GuestBuffer> status_byte(const DescriptorChain& chain)
{
    for (auto it = chain.writable.rbegin(); it != chain.writable.rend(); ++it)
        if (it->len > 0)
            return GuestBuffer{{it->addr.value + it->len - 1}, 1};
    return std::nullopt;
}

BlockRefusal refuse(const DescriptorChain& chain, std::string reason, uint8_t status = UKRUN_BLOCK_S_IOERR)
{
    return {status, status_byte(chain), std::move(reason)};
}

} // namespace

std::variant<BlockRequest, BlockRefusal> parse_block_request(const DescriptorChain& chain, const GuestMemory& memory,
                                                             const BlockGeometry& geometry)
{
    if (chain.writable_bytes == 0)
        return refuse(chain, "no status byte");
    ukrun_block_request_header header{};
    if (chain.readable_bytes < kHeaderBytes || !gather(memory, chain.readable, kHeaderBytes, &header))
        return refuse(chain, "request header too short");
    if (header.reserved != 0)
        return refuse(chain, "reserved header field is not zero");

    BlockRequest request;
    request.type = header.type;
    request.status = *status_byte(chain);
    switch (header.type) {
    case UKRUN_BLOCK_T_READ:
        if (chain.readable_bytes != kHeaderBytes)
            return refuse(chain, "read request carries device-readable data");
        request.data_bytes = chain.writable_bytes - 1;
        request.data = slice_buffers(chain.writable, 0, request.data_bytes);
        break;
    case UKRUN_BLOCK_T_WRITE:
        if (geometry.readonly)
            return refuse(chain, "write to a read-only device");
        if (chain.writable_bytes != 1)
            return refuse(chain, "write request has more than a status byte writable");
        request.data_bytes = chain.readable_bytes - kHeaderBytes;
        request.data = slice_buffers(chain.readable, kHeaderBytes, request.data_bytes);
        break;
    case UKRUN_BLOCK_T_FLUSH:
        if (chain.readable_bytes != kHeaderBytes || chain.writable_bytes != 1)
            return refuse(chain, "flush request carries data");
        return request;
    default:
        return refuse(chain, fmt::format("unknown request type {}", header.type), UKRUN_BLOCK_S_UNSUPPORTED);
    }
    if (request.data_bytes == 0 || request.data_bytes % geometry.sector_size != 0)
        return refuse(chain, fmt::format("data length {} is not a positive multiple of the sector size {}",
                                         request.data_bytes, geometry.sector_size));
    if (request.data_bytes > kBlockMaxRequest)
        return refuse(chain, fmt::format("request of {} bytes exceeds the limit {}", request.data_bytes,
                                         kBlockMaxRequest));
    const uint64_t sectors = request.data_bytes / geometry.sector_size;
    if (header.sector >= geometry.capacity || sectors > geometry.capacity - header.sector)
        return refuse(chain, fmt::format("sectors {}+{} lie beyond the device's {} sectors", header.sector, sectors,
                                         geometry.capacity));
    request.offset = header.sector * geometry.sector_size;
    return request;
}

BlockDevice::BlockDevice(std::string name, const BlockBacking& backing) : Device(std::move(name))
{
    const std::string& path = backing.path;
    const auto where = [&] { return fmt::format("block device '{}' ({})", this->name(), path); };
    const uint32_t sector = backing.sector_size;
    if (sector < 512 || sector > 65536 || (sector & (sector - 1)) != 0)
        throw DeviceError(fmt::format("{}: sector size {} is not a power of two in 512..65536", where(), sector));

    fd_ = UniqueFd(::open(path.c_str(), (backing.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC));
    if (!fd_.valid())
        throw DeviceError(fmt::format("{}: cannot open: {}", where(), std::strerror(errno)));
    struct stat st{};
    if (::fstat(fd_.get(), &st) < 0)
        throw DeviceError(fmt::format("{}: cannot stat: {}", where(), std::strerror(errno)));
    uint64_t bytes = 0;
    if (S_ISREG(st.st_mode)) {
        bytes = static_cast<uint64_t>(st.st_size);
    } else if (S_ISBLK(st.st_mode)) {
        if (::ioctl(fd_.get(), BLKGETSIZE64, &bytes) < 0)
            throw DeviceError(fmt::format("{}: cannot read its size: {}", where(), std::strerror(errno)));
    } else {
        throw DeviceError(fmt::format("{}: not a regular file or block device", where()));
    }
    if (bytes == 0)
        throw DeviceError(fmt::format("{}: the image is empty", where()));
    if (bytes % sector != 0)
        throw DeviceError(fmt::format("{}: size {} is not a multiple of the sector size {}", where(), bytes, sector));
    // Two writers on one image would corrupt it; readers may share.
    if (::flock(fd_.get(), (backing.readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0)
        throw DeviceError(fmt::format("{}: the image is in use by another process", where()));
    geometry_ = {bytes / sector, sector, backing.readonly};
}

void BlockDevice::attach(const GuestMemory& memory, std::vector<Virtqueue> queues)
{
    memory_ = &memory;
    queues_ = std::move(queues);
}

void BlockDevice::describe(ukrun_device_info& info) const
{
    info.capacity = geometry_.capacity;
    info.sector_size = geometry_.sector_size;
    info.max_request = kBlockMaxRequest;
    if (geometry_.readonly)
        info.flags |= UKRUN_DEVICE_F_READONLY;
}

void BlockDevice::notify(uint32_t queue)
{
    if (queue >= queues_.size())
        throw GuestViolation(fmt::format("notify for block device '{}' queue {}: it has one queue", name(), queue));
    ++counters_.notifications;
    Virtqueue& q = queues_[queue];
    // Drain the whole batch in this one exit; re-check after re-enabling notifications so
    // a chain posted while they were off is not left behind.
    // The one vCPU is stopped meanwhile, so at most a queue's worth can be pending. More
    // means the device's own writes (a read aimed at the ring) keep re-posting chains,
    // which would hold the monitor in this exit for ever, deaf to signals.
    unsigned served = 0;
    do {
        q.suppress_notifications(true);
        while (auto chain = q.pop()) {
            if (++served > q.size())
                throw GuestViolation(fmt::format("{}: more than {} chains in one notify: the device's own writes "
                                                 "keep re-posting chains (a read into the ring?)",
                                                 q.name(), q.size()));
            q.push_used(chain->head, serve(*chain));
        }
        q.suppress_notifications(false);
    } while (q.has_available());
}

uint32_t BlockDevice::serve(const DescriptorChain& chain)
{
    auto parsed = parse_block_request(chain, *memory_, geometry_);
    if (auto* refusal = std::get_if<BlockRefusal>(&parsed)) {
        ++counters_.errors;
        if (!refusal->status_byte)
            return 0;
        memory_->write<uint8_t>(refusal->status_byte->addr, refusal->status);
        return 1;
    }
    const auto& request = std::get<BlockRequest>(parsed);
    const bool ok = transfer(request);
    if (!ok)
        ++counters_.errors;
    memory_->write<uint8_t>(request.status.addr, ok ? UKRUN_BLOCK_S_OK : UKRUN_BLOCK_S_IOERR);
    const bool read = request.type == UKRUN_BLOCK_T_READ;
    return static_cast<uint32_t>((read && ok ? request.data_bytes : 0) + 1);
}

bool BlockDevice::transfer(const BlockRequest& request)
{
    if (request.type == UKRUN_BLOCK_T_FLUSH) {
        ++counters_.flushes;
        return ::fdatasync(fd_.get()) == 0;
    }
    std::vector<iovec> iov;
    iov.reserve(request.data.size());
    for (const auto& b : request.data)
        iov.push_back({memory_->slice(b.addr, b.len).data(), b.len});
    const bool read = request.type == UKRUN_BLOCK_T_READ;
    uint64_t done = 0;
    std::size_t first = 0;
    auto offset = static_cast<off_t>(request.offset);
    while (done < request.data_bytes) {
        const int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
        const ssize_t n = read ? ::preadv(fd_.get(), &iov[first], count, offset)
                               : ::pwritev(fd_.get(), &iov[first], count, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false; // an I/O error, or the backing shrank under us
        done += static_cast<uint64_t>(n);
        offset += n;
        // Advance past what was transferred (short transfers are rare but legal).
        auto left = static_cast<std::size_t>(n);
        while (first < iov.size() && left >= iov[first].iov_len)
            left -= iov[first++].iov_len;
        if (left > 0) {
            iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + left;
            iov[first].iov_len -= left;
        }
    }
    if (read) {
        ++counters_.reads;
        counters_.bytes_read += done;
    } else {
        ++counters_.writes;
        counters_.bytes_written += done;
    }
    return true;
}

std::string BlockDevice::stats() const
{
    const uint64_t requests = counters_.reads + counters_.writes + counters_.flushes + counters_.errors;
    return fmt::format("{}: notifications={} requests={} reads={} writes={} flushes={} errors={} read-bytes={} "
                       "written-bytes={}",
                       name(), counters_.notifications, requests, counters_.reads, counters_.writes, counters_.flushes,
                       counters_.errors, counters_.bytes_read, counters_.bytes_written);
}

} // namespace ukrun
