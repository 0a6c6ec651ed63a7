/* ukrun block devices: find a declared disk, then read, write and flush it, one request or a batch at a time. */
#ifndef UKRUN_BLOCK_H
#define UKRUN_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include <ukrun/abi.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Results: 0 or one of these. The device, not the driver, judges the sector range and
 * read-only devices, so both come back as UKRUN_BLOCK_EIO.
 */
#define UKRUN_BLOCK_OK 0
#define UKRUN_BLOCK_EIO (-1)         /* the device failed the request (UKRUN_BLOCK_S_IOERR) */
#define UKRUN_BLOCK_EUNSUPPORTED (-2) /* the device does not do this (UKRUN_BLOCK_S_UNSUPPORTED) */
#define UKRUN_BLOCK_EINVAL (-3)      /* refused before it was sent: bad length, type or pointer */
#define UKRUN_BLOCK_EPROTO (-4)      /* the device completed the request without a valid status */

/* A declared block device; owned by the bindings, valid for the life of the unikernel. */
struct ukrun_block;

/* One request of a batch. */
struct ukrun_block_op {
    uint32_t type;   /* [in]  UKRUN_BLOCK_T_READ, UKRUN_BLOCK_T_WRITE or UKRUN_BLOCK_T_FLUSH */
    int32_t status;  /* [out] UKRUN_BLOCK_OK or a negative UKRUN_BLOCK_E* code */
    uint64_t sector; /* [in]  first sector (read, write) */
    void* buffer;    /* [in]  the data (read, write); the device reads or fills it in place */
    size_t bytes;    /* [in]  a multiple of the sector size; larger than max_request is fine */
};

/* The block device declared under name (add_unikernel DEVICES name:block) and attached by
 * the monitor; NULL if there is none, it is not a block device or its geometry is
 * unusable. Acquiring the same name twice returns the same device. */
struct ukrun_block* ukrun_block_acquire(const char* name);

uint32_t ukrun_block_sector_size(const struct ukrun_block* dev);
/* Size in sectors. */
uint64_t ukrun_block_capacity(const struct ukrun_block* dev);
int ukrun_block_readonly(const struct ukrun_block* dev);
/* Largest payload of one device request in bytes; the driver splits larger ones. */
uint32_t ukrun_block_max_request(const struct ukrun_block* dev);
/* Requests whose descriptors fit in the queue at once: the most one notify can carry. */
uint32_t ukrun_block_queue_depth(const struct ukrun_block* dev);

/* Blocking transfers of bytes (a multiple of the sector size) at sector. The buffer is
 * handed to the device as it is: no copy, no alignment needed. */
int ukrun_block_read(struct ukrun_block* dev, uint64_t sector, void* buffer, size_t bytes);
int ukrun_block_write(struct ukrun_block* dev, uint64_t sector, const void* buffer, size_t bytes);
/* Returns once everything written so far is durable on the host. */
int ukrun_block_flush(struct ukrun_block* dev);

/*
 * Runs n requests and waits for all of them: as many as fit in the queue are posted with
 * a single notify (one exit), then the next batch. Reads and writes in one batch may
 * complete in any order; a flush first waits for the ops before it, so it covers them.
 * Every op's status is filled in; returns 0 if all succeeded, otherwise the status of the
 * first op that failed.
 */
int ukrun_block_submit(struct ukrun_block* dev, struct ukrun_block_op* ops, size_t n);

/* A short description of a UKRUN_BLOCK_* result. */
const char* ukrun_block_strerror(int result);

#ifdef __cplusplus
}
#endif

#endif /* UKRUN_BLOCK_H */
