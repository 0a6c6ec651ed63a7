// Net device driver: receive buffers posted once and recycled, transmit frames batched per notify.

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ukrun/nic.h>
#include <ukrun/ukrun.h>

#include "hypercall.hpp"
#include "internal.hpp"
#include "vring.hpp"

namespace {

constexpr uint32_t rx_queue = 0;
constexpr uint32_t tx_queue = 1;
constexpr uint32_t ethernet_header = 14;

} // namespace

struct ukrun_nic {
    uint32_t index;
    const ukrun_device_info* info;
    uint32_t frame_bytes; // MTU + Ethernet header, rounded up to 64
    ukrun::Vring rx;
    ukrun::Vring tx;
    uint8_t* rx_buffers; // rx.size() buffers of frame_bytes, indexed by chain head
    uint8_t* tx_buffers; // likewise for tx
    uint32_t tx_pending; // published since the last notify
    uint64_t dropped;
    bool acquired;
};

namespace {

ukrun_nic nics[UKRUN_MAX_DEVICES];

// Posts one free descriptor with the buffer that belongs to it: buffer i is descriptor i's.
void post_rx(ukrun_nic& nic)
{
    const uint16_t head = nic.rx.next_head();
    const ukrun::VringBuffer buffer{reinterpret_cast<uintptr_t>(nic.rx_buffers + size_t{head} * nic.frame_bytes),
                                    nic.frame_bytes, true};
    if (nic.rx.add(&buffer, 1) != ukrun::Vring::no_head)
        nic.rx.publish(head);
}

void reclaim_tx(ukrun_nic& nic)
{
    ukrun::VringUsed used;
    for (;;) {
        const ukrun::VringHarvest h = nic.tx.harvest(used);
        if (h == ukrun::VringHarvest::empty)
            return;
        if (h == ukrun::VringHarvest::device_error)
            ukrun_panic("net device '%s': the monitor returned a transmit buffer it was not given", nic.info->name);
    }
}

} // namespace

extern "C" {

struct ukrun_nic* ukrun_nic_acquire(const char* name)
{
    const ukrun_boot_info* info = ukrun_get_boot_info();
    for (uint32_t i = 0; i < info->device_count && i < UKRUN_MAX_DEVICES; ++i) {
        const ukrun_device_info& d = info->devices[i];
        if (d.type != UKRUN_DEVICE_NET || strncmp(d.name, name, UKRUN_DEVICE_NAME_MAX) != 0)
            continue;
        ukrun_nic& nic = nics[i];
        if (nic.acquired)
            return &nic;
        if (d.queue_count < 2)
            return nullptr;
        nic.index = i;
        nic.info = &d;
        nic.frame_bytes = (d.mtu + ethernet_header + 63) & ~63u;
        nic.rx = ukrun::Vring(d.queues[rx_queue]);
        nic.tx = ukrun::Vring(d.queues[tx_queue]);
        if (!nic.rx.valid() || !nic.tx.valid())
            return nullptr;
        nic.rx_buffers = static_cast<uint8_t*>(malloc(size_t{nic.rx.size()} * nic.frame_bytes));
        nic.tx_buffers = static_cast<uint8_t*>(malloc(size_t{nic.tx.size()} * nic.frame_bytes));
        if (nic.rx_buffers == nullptr || nic.tx_buffers == nullptr)
            ukrun_panic("net device '%s': no memory for frame buffers", d.name);
        while (nic.rx.free_count() > 0)
            post_rx(nic);
        nic.acquired = true;
        return &nic;
    }
    return nullptr;
}

uint32_t ukrun_nic_index(const struct ukrun_nic* nic)
{
    return nic->index;
}

const uint8_t* ukrun_nic_mac(const struct ukrun_nic* nic)
{
    return nic->info->mac;
}

uint32_t ukrun_nic_mtu(const struct ukrun_nic* nic)
{
    return nic->info->mtu;
}

int ukrun_nic_send(struct ukrun_nic* nic, const void* frame, size_t len)
{
    if (len < ethernet_header || len > nic->info->mtu + ethernet_header)
        return UKRUN_NIC_EINVAL;
    reclaim_tx(*nic);
    if (nic->tx.free_count() == 0) {
        ukrun_nic_flush(nic); // the monitor transmits synchronously, freeing every buffer
        reclaim_tx(*nic);
        if (nic->tx.free_count() == 0)
            return UKRUN_NIC_EAGAIN;
    }
    const uint16_t head = nic->tx.next_head();
    uint8_t* slot = nic->tx_buffers + size_t{head} * nic->frame_bytes;
    memcpy(slot, frame, len);
    const ukrun::VringBuffer buffer{reinterpret_cast<uintptr_t>(slot), static_cast<uint32_t>(len), false};
    if (nic->tx.add(&buffer, 1) == ukrun::Vring::no_head)
        return UKRUN_NIC_EAGAIN;
    nic->tx.publish(head);
    ++nic->tx_pending;
    return UKRUN_NIC_OK;
}

void ukrun_nic_flush(struct ukrun_nic* nic)
{
    reclaim_tx(*nic);
    if (nic->tx.in_flight() == 0)
        nic->tx_pending = 0; // a poll already took them
    if (nic->tx_pending == 0)
        return;
    nic->tx_pending = 0;
    if (!nic->tx.needs_notify())
        return;
    ukrun_hc_notify request{nic->index, tx_queue};
    ukrun::hypercall(UKRUN_HC_NOTIFY, &request);
}

size_t ukrun_nic_receive(struct ukrun_nic* nic, void* buffer, size_t capacity)
{
    ukrun::VringUsed used;
    for (;;) {
        const ukrun::VringHarvest h = nic->rx.harvest(used);
        if (h == ukrun::VringHarvest::empty)
            return 0;
        if (h == ukrun::VringHarvest::device_error)
            ukrun_panic("net device '%s': the monitor returned a receive buffer it was not given", nic->info->name);
        const uint8_t* frame = nic->rx_buffers + size_t{used.head} * nic->frame_bytes;
        const size_t len = used.len;
        size_t copied = 0;
        if (len >= ethernet_header && len <= nic->frame_bytes && len <= capacity) {
            memcpy(buffer, frame, len);
            copied = len;
        } else {
            ++nic->dropped;
        }
        post_rx(*nic);
        if (copied != 0)
            return copied;
    }
}

uint64_t ukrun_nic_dropped(const struct ukrun_nic* nic)
{
    return nic->dropped;
}

} // extern "C"
