/* ukrun guest ABI: the one versioned contract between the ukrun monitor and a unikernel. */
#ifndef UKRUN_ABI_H
#define UKRUN_ABI_H

/*
 * Freestanding C and C++. Fixed-width integers only: no pointers, bools or enums in
 * structs, so the layout is identical for the monitor (host C++) and the guest.
 * Every field is marked [in] (guest -> monitor), [out] (monitor -> guest) or [in/out].
 * All addresses are guest-physical; the guest runs identity-mapped, so a guest pointer
 * is its guest-physical address.
 *
 * Versioning: UKRUN_ABI_VERSION is bumped on any incompatible change. A unikernel
 * carries the version it was built against in an ELF note (UKRUN_NOTE_ABI); the monitor
 * refuses a mismatch before it creates the VM.
 */

#include <stdint.h>

#define UKRUN_ABI_VERSION 1u

/* ---- Guest memory -------------------------------------------------------------- */
/* The monitor owns everything below 1 MiB (boot info, its CPU tables); PT_LOAD segments
 * of a unikernel must lie at or above UKRUN_GUEST_LOAD_MIN, page aligned in file and
 * memory, and never both writable and executable. */
#define UKRUN_GUEST_LOAD_MIN 0x100000u
#define UKRUN_PAGE_SIZE 4096u

/* ---- ELF notes ------------------------------------------------------------------ */
/* Notes live in a PT_NOTE segment, note name "ukrun" (with its NUL, namesz 6). */
#define UKRUN_NOTE_NAME "ukrun"
#define UKRUN_NOTE_ABI 1u      /* desc: struct ukrun_note_abi */
#define UKRUN_NOTE_MANIFEST 2u /* desc: struct ukrun_note_manifest */

struct ukrun_note_abi {
    uint32_t abi_version; /* UKRUN_ABI_VERSION the unikernel was built against */
};

/* ---- Hypercalls ------------------------------------------------------------------ */
/*
 * A hypercall is one 32-bit `out` from CPL 3: port UKRUN_HC_PORT_BASE + number, value the
 * guest-physical address of the argument struct (so argument structs live below 4 GiB,
 * which all guest memory does). The monitor copies the struct out of guest memory once,
 * acts, and writes back only the [out] fields. Any address or length that is not wholly
 * inside guest RAM, an unknown hypercall number or an unknown port ends the VM with a
 * diagnosis (exit code UKRUN_EXIT_GUEST_VIOLATION).
 */
#define UKRUN_HC_PORT_BASE 0x500u
#define UKRUN_HC_PORT_COUNT 0x100u /* ports 0x500..0x5ff are reserved for ukrun */

enum ukrun_hypercall {
    UKRUN_HC_CONSOLE_WRITE = 1, /* struct ukrun_hc_console_write */
    UKRUN_HC_WALL_CLOCK = 2,    /* struct ukrun_hc_wall_clock */
    UKRUN_HC_POLL = 3,          /* struct ukrun_hc_poll */
    UKRUN_HC_EXIT = 4,          /* struct ukrun_hc_exit; never returns */
    UKRUN_HC_ABORT = 5,         /* struct ukrun_hc_abort; never returns */
    UKRUN_HC_NOTIFY = 6,        /* struct ukrun_hc_notify: a device queue has new work */
};

/* The last port is the monitor's own CPU exception stubs', which run at CPL 0; the TSS I/O
 * bitmap closes it to the unikernel, so a fault report cannot be forged. */
#define UKRUN_FAULT_PORT (UKRUN_HC_PORT_BASE + 0xffu)

struct ukrun_hc_console_write {
    uint64_t data; /* [in] guest address of the bytes */
    uint64_t len;  /* [in] number of bytes; at most UKRUN_CONSOLE_WRITE_MAX */
};
#define UKRUN_CONSOLE_WRITE_MAX (1u << 20)

struct ukrun_hc_wall_clock {
    uint64_t ns; /* [out] nanoseconds since the Unix epoch (host CLOCK_REALTIME) */
};

/*
 * Block until one of the devices in the guest's ready mask has work (a net receive
 * queue has frames, a completion is pending), the monitor was asked to shut down, or
 * timeout_ns has elapsed, whichever comes first. timeout_ns 0 only checks (a yield).
 * The host sleeps while the guest waits: an idle guest costs no CPU.
 */
/* Poll also transmits whatever the guest left on its net transmit queues, so a guest about
 * to wait need not notify first: a request/response costs one exit, not two. */
struct ukrun_hc_poll {
    uint64_t timeout_ns; /* [in]  relative timeout */
    uint64_t ready;      /* [out] bit i set: device i (boot info device table) has work */
    uint32_t events;     /* [out] UKRUN_POLL_* flags */
    uint32_t reserved;   /* [in]  must be 0 */
};
#define UKRUN_POLL_SHUTDOWN 1u /* the monitor was asked to stop (SIGTERM/SIGINT): exit soon */

struct ukrun_hc_exit {
    uint32_t status;   /* [in] 0..UKRUN_EXIT_STATUS_MAX, becomes ukrun's exit code */
    uint32_t reserved; /* [in] must be 0 */
};
#define UKRUN_EXIT_STATUS_MAX 111u

struct ukrun_hc_abort {
    uint64_t message; /* [in] guest address of a message (may be 0) */
    uint64_t len;     /* [in] its length; at most UKRUN_ABORT_MESSAGE_MAX */
};
#define UKRUN_ABORT_MESSAGE_MAX 512u

struct ukrun_hc_notify {
    uint32_t device;   /* [in] index into the boot info device table */
    uint32_t queue;    /* [in] queue index within that device */
};

/* ---- Process exit codes ---------------------------------------------------------- */
/* 0..111 are the unikernel's own exit status; the monitor's own outcomes are above. */
#define UKRUN_EXIT_GUEST_ABORT 112     /* the unikernel aborted (abort(), failed check) */
#define UKRUN_EXIT_GUEST_FAULT 113     /* a CPU exception in the unikernel (#PF, #GP, ...) */
#define UKRUN_EXIT_GUEST_VIOLATION 114 /* a hostile or broken hypercall or ring */
#define UKRUN_EXIT_VM_FAILURE 115      /* triple fault, KVM internal error, unexpected exit */
#define UKRUN_EXIT_USAGE 120           /* bad command line */
#define UKRUN_EXIT_BAD_IMAGE 121       /* the unikernel ELF is unusable or mismatched */
#define UKRUN_EXIT_BAD_DEVICE 122      /* a device backing is missing, malformed or refused */
#define UKRUN_EXIT_HOST_ERROR 123      /* the host could not run the VM (/dev/kvm, ioctl) */
/* 128 + signal: stopped by that signal after the grace period. */

/* ---- Devices and rings ----------------------------------------------------------- */
#define UKRUN_DEVICE_NAME_MAX 32u /* including the terminating NUL */
#define UKRUN_MAX_DEVICES 8u
#define UKRUN_MAX_QUEUES 2u

enum ukrun_device_type {
    UKRUN_DEVICE_BLOCK = 1,
    UKRUN_DEVICE_NET = 2,
};

/* Manifest: the devices a unikernel declares; nothing else is ever attached. */
struct ukrun_manifest_entry {
    char name[UKRUN_DEVICE_NAME_MAX]; /* NUL-terminated, [a-z0-9_-]+ */
    uint32_t type;                    /* enum ukrun_device_type */
    uint32_t reserved;                /* must be 0 */
};
struct ukrun_note_manifest {
    uint32_t count; /* <= UKRUN_MAX_DEVICES */
    uint32_t reserved;
    struct ukrun_manifest_entry entries[UKRUN_MAX_DEVICES];
};

/*
 * A split virtqueue (virtio 1.x layout) placed by the monitor in guest memory it
 * reserves for it and reported here; the guest never chooses ring addresses, so queue
 * geometry is checked once, at boot.
 */
struct ukrun_queue_info {
    uint64_t desc;  /* [out] descriptor table: size * 16 bytes, 16-byte aligned */
    uint64_t avail; /* [out] available ring: 6 + size * 2 bytes, 2-byte aligned */
    uint64_t used;  /* [out] used ring: 6 + size * 8 bytes, 4-byte aligned */
    uint32_t size;  /* [out] number of descriptors, a power of two */
    uint32_t reserved;
};

struct ukrun_device_info {
    char name[UKRUN_DEVICE_NAME_MAX]; /* [out] the manifest name */
    uint32_t type;                    /* [out] enum ukrun_device_type */
    uint32_t flags;                   /* [out] UKRUN_DEVICE_F_* */
    uint32_t queue_count;             /* [out] block: 1 (requests); net: 2 (0 = rx, 1 = tx) */
    uint32_t reserved;
    struct ukrun_queue_info queues[UKRUN_MAX_QUEUES];
    /* Type-specific configuration. */
    uint64_t capacity;    /* [out] block: size in sectors */
    uint32_t sector_size; /* [out] block: bytes per sector */
    uint32_t mtu;         /* [out] net: MTU (payload bytes, without the Ethernet header) */
    uint8_t mac[6];       /* [out] net: MAC address */
    uint8_t pad[2];
    uint32_t max_request; /* [out] block: largest request payload in bytes */
    uint32_t reserved2;
};
#define UKRUN_DEVICE_F_READONLY 1u

/* Descriptor and ring layouts (virtio 1.x split queue). */
struct ukrun_vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
#define UKRUN_VRING_DESC_F_NEXT 1u
#define UKRUN_VRING_DESC_F_WRITE 2u
#define UKRUN_VRING_AVAIL_F_NO_INTERRUPT 1u /* guest: it polls; the monitor need not wake it */
#define UKRUN_VRING_USED_F_NO_NOTIFY 1u     /* monitor: busy with the queue, skip the notify */

struct ukrun_vring_used_elem {
    uint32_t id;
    uint32_t len;
};

/* Block requests: a chain of [header (device-readable)] [data...] [status byte (writable)]. */
struct ukrun_block_request_header {
    uint32_t type;     /* UKRUN_BLOCK_T_* */
    uint32_t reserved; /* must be 0 */
    uint64_t sector;   /* first sector for read and write */
};
enum ukrun_block_request_type {
    UKRUN_BLOCK_T_READ = 0,
    UKRUN_BLOCK_T_WRITE = 1,
    UKRUN_BLOCK_T_FLUSH = 4,
};
enum ukrun_block_status {
    UKRUN_BLOCK_S_OK = 0,
    UKRUN_BLOCK_S_IOERR = 1,
    UKRUN_BLOCK_S_UNSUPPORTED = 2,
};

/* Net frames: each chain is one Ethernet frame without FCS, preceded by nothing. */

/* ---- Boot info ------------------------------------------------------------------- */
/*
 * Written by the monitor into a read-only page; its address is passed in %rdi at entry.
 * The unikernel starts in 64-bit mode at CPL 3 at the ELF entry, %rsp = stack_top
 * (16-byte aligned), interrupts off, with page tables it cannot see or change.
 */
#define UKRUN_CMDLINE_MAX 4096u

struct ukrun_boot_info {
    uint32_t abi_version; /* [out] UKRUN_ABI_VERSION */
    uint32_t size;        /* [out] sizeof(struct ukrun_boot_info) */
    uint64_t mem_size;    /* [out] guest RAM in bytes */
    uint64_t heap_start;  /* [out] first byte of the heap (page aligned) */
    uint64_t heap_end;    /* [out] one past its last byte */
    uint64_t stack_top;   /* [out] initial %rsp; the stack grows down to a guard page */
    uint64_t stack_size;  /* [out] bytes of stack below stack_top */
    uint64_t tsc_hz;      /* [out] TSC frequency (invariant TSC); monotonic time base */
    uint64_t cmdline;     /* [out] argv as consecutive NUL-terminated strings */
    uint32_t cmdline_len; /* [out] bytes at cmdline, including every NUL */
    uint32_t argc;        /* [out] number of strings at cmdline; argv[0] is the image name */
    uint32_t device_count; /* [out] entries used in devices[] */
    uint32_t reserved;
    struct ukrun_device_info devices[UKRUN_MAX_DEVICES];
};

/* ---- Layout checks (any change here is an ABI change) ---------------------------- */
#ifdef __cplusplus
#define UKRUN_STATIC_ASSERT static_assert
#else
#define UKRUN_STATIC_ASSERT _Static_assert
#endif
#include <stddef.h>
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_note_abi) == 4, "ukrun_note_abi");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_hc_console_write) == 16, "console_write");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_hc_console_write, len) == 8, "console_write.len");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_hc_wall_clock) == 8, "wall_clock");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_hc_poll) == 24, "poll");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_hc_poll, ready) == 8, "poll.ready");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_hc_poll, events) == 16, "poll.events");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_hc_exit) == 8, "exit");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_hc_abort) == 16, "abort");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_hc_notify) == 8, "notify");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_manifest_entry) == 40, "manifest_entry");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_manifest_entry, type) == 32, "manifest_entry.type");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_note_manifest) == 8 + 40 * UKRUN_MAX_DEVICES, "manifest");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_queue_info) == 32, "queue_info");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_queue_info, size) == 24, "queue_info.size");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_device_info, queues) == 48, "device_info.queues");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_device_info, capacity) == 112, "device_info.capacity");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_device_info, mac) == 128, "device_info.mac");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_device_info) == 144, "device_info");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_vring_desc) == 16, "vring_desc");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_vring_desc, next) == 14, "vring_desc.next");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_vring_used_elem) == 8, "used_elem");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_block_request_header) == 16, "block header");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_boot_info, mem_size) == 8, "boot_info.mem_size");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_boot_info, tsc_hz) == 48, "boot_info.tsc_hz");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_boot_info, cmdline) == 56, "boot_info.cmdline");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_boot_info, device_count) == 72, "boot_info.device_count");
UKRUN_STATIC_ASSERT(offsetof(struct ukrun_boot_info, devices) == 80, "boot_info.devices");
UKRUN_STATIC_ASSERT(sizeof(struct ukrun_boot_info) == 80 + 144 * UKRUN_MAX_DEVICES, "boot_info");

#endif /* UKRUN_ABI_H */
