/* ukrun NICs: find a declared net device, send and receive Ethernet frames over its rings. */
#ifndef UKRUN_NIC_H
#define UKRUN_NIC_H

#include <stddef.h>
#include <stdint.h>

#include <ukrun/abi.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UKRUN_NIC_OK 0
#define UKRUN_NIC_EINVAL (-1) /* a frame shorter than an Ethernet header or longer than MTU + 14 */
#define UKRUN_NIC_EAGAIN (-2) /* every transmit buffer is in flight */

struct ukrun_nic;

/* The net device declared under name (add_unikernel DEVICES name:net) and attached by the
 * monitor; NULL if there is none or it is not a net device. Receive buffers are posted
 * here, so frames can arrive from then on. */
struct ukrun_nic* ukrun_nic_acquire(const char* name);

/* The device's index in the boot info table: bit (1 << index) in ukrun_poll's ready mask. */
uint32_t ukrun_nic_index(const struct ukrun_nic* nic);
const uint8_t* ukrun_nic_mac(const struct ukrun_nic* nic); /* 6 bytes */
/* Largest IP packet; a frame is at most MTU + 14 bytes. */
uint32_t ukrun_nic_mtu(const struct ukrun_nic* nic);

/* Copies one frame into a transmit buffer. Frames leave in batches: at ukrun_nic_flush,
 * or when no buffer is free. */
int ukrun_nic_send(struct ukrun_nic* nic, const void* frame, size_t len);
/* Hands every queued frame to the monitor with one notify (one exit). ukrun_poll hands them
 * over too, without an exit of its own, so a loop that polls next need not flush; this is
 * for senders that keep computing. A no-op when nothing is queued. */
void ukrun_nic_flush(struct ukrun_nic* nic);

/* Copies the next received frame into buffer and returns its length; 0 when none is
 * waiting. A frame longer than capacity is dropped and counted. */
size_t ukrun_nic_receive(struct ukrun_nic* nic, void* buffer, size_t capacity);

/* Frames dropped by the driver: too long for the caller, or malformed completions. */
uint64_t ukrun_nic_dropped(const struct ukrun_nic* nic);

#ifdef __cplusplus
}
#endif

#endif /* UKRUN_NIC_H */
