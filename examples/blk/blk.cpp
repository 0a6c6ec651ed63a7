// A tiny persistent key-value store on a disk: put, get, del and list from the command line.

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ukrun/block.h>
#include <ukrun/ukrun.h>

namespace {

// On disk: sector 0 holds the header, sectors 1..slot_count one slot each. A slot is
// self-checking, so a torn or corrupt slot is skipped rather than believed.
constexpr char store_magic[8] = {'u', 'k', 'r', 'u', 'n', 'k', 'v', '\0'};
constexpr uint32_t store_version = 1;
constexpr uint32_t slot_magic = 0x746f6c73; // "slot"
constexpr uint64_t max_slots = 1024;
constexpr uint64_t min_slots = 16;
constexpr size_t key_max = 64;
constexpr size_t value_max = 400;
constexpr uint32_t sector_min = 512;

struct Header {
    char magic[8];
    uint32_t version;
    uint32_t sector_size;
    uint64_t slot_count;
    uint32_t checksum; // over the fields above
    uint32_t reserved;
};

struct Slot {
    uint32_t magic; // slot_magic when in use, 0 when free
    uint16_t key_len;
    uint16_t value_len;
    char key[key_max];
    char value[value_max];
    uint32_t checksum; // over everything above
};
static_assert(sizeof(Slot) <= sector_min);

ukrun_block* disk;
uint32_t sector_size;
uint8_t* sector; // one sector of scratch, for the header and single-slot writes
uint8_t* slots;  // all slot sectors, read at once
uint64_t slot_count;

// FNV-1a: enough to tell a written record from garbage or a torn write.
uint32_t checksum(const void* data, size_t len)
{
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < len; ++i)
        hash = (hash ^ static_cast<const uint8_t*>(data)[i]) * 16777619u;
    return hash;
}

[[noreturn]] void fail(const char* what, int result)
{
    printf("blk: %s: %s\n", what, ukrun_block_strerror(result));
    exit(1);
}

Slot* slot_at(uint64_t index)
{
    return reinterpret_cast<Slot*>(slots + index * sector_size);
}

bool slot_valid(const Slot& slot)
{
    return slot.magic == slot_magic && slot.key_len > 0 && slot.key_len <= key_max &&
           slot.value_len <= value_max && slot.checksum == checksum(&slot, offsetof(Slot, checksum));
}

bool slot_blank(uint64_t index)
{
    const uint8_t* bytes = slots + index * sector_size;
    for (uint32_t i = 0; i < sector_size; ++i)
        if (bytes[i] != 0)
            return false;
    return true;
}

// Writes one sector and makes it durable before the command reports success.
void write_durably(uint64_t sector_index, const void* data)
{
    int result = ukrun_block_write(disk, sector_index, data, sector_size);
    if (result != UKRUN_BLOCK_OK)
        fail("write", result);
    result = ukrun_block_flush(disk);
    if (result != UKRUN_BLOCK_OK)
        fail("flush", result);
}

void format()
{
    const uint64_t capacity = ukrun_block_capacity(disk);
    slot_count = capacity - 1 < max_slots ? capacity - 1 : max_slots;
    memset(slots, 0, slot_count * sector_size);
    const int result = ukrun_block_write(disk, 1, slots, slot_count * sector_size);
    if (result != UKRUN_BLOCK_OK)
        fail("format", result);
    // The header goes last, so a store interrupted while formatting is still blank.
    memset(sector, 0, sector_size);
    Header header{};
    memcpy(header.magic, store_magic, sizeof(store_magic));
    header.version = store_version;
    header.sector_size = sector_size;
    header.slot_count = slot_count;
    header.checksum = checksum(&header, offsetof(Header, checksum));
    memcpy(sector, &header, sizeof(header));
    write_durably(0, sector);
}

// Returns false for a blank disk (never formatted); exits on anything it cannot trust.
bool open_store()
{
    int result = ukrun_block_read(disk, 0, sector, sector_size);
    if (result != UKRUN_BLOCK_OK)
        fail("reading the header", result);
    bool blank = true;
    for (uint32_t i = 0; i < sector_size && blank; ++i)
        blank = sector[i] == 0;
    if (blank)
        return false;
    Header header;
    memcpy(&header, sector, sizeof(header));
    if (memcmp(header.magic, store_magic, sizeof(store_magic)) != 0) {
        printf("blk: the disk is not a key-value store (bad magic); refusing to touch it\n");
        exit(1);
    }
    if (header.checksum != checksum(&header, offsetof(Header, checksum))) {
        printf("blk: corrupt header (checksum mismatch); run 'format' to start over\n");
        exit(1);
    }
    if (header.version != store_version) {
        printf("blk: store version %u, this program reads version %u\n", header.version, store_version);
        exit(1);
    }
    if (header.sector_size != sector_size) {
        printf("blk: the store was formatted with %u-byte sectors, the disk now has %u-byte sectors\n",
               header.sector_size, sector_size);
        exit(1);
    }
    if (header.slot_count == 0 || header.slot_count > max_slots || header.slot_count > ukrun_block_capacity(disk) - 1) {
        printf("blk: corrupt header (%llu slots do not fit this disk)\n",
               static_cast<unsigned long long>(header.slot_count));
        exit(1);
    }
    slot_count = header.slot_count;
    result = ukrun_block_read(disk, 1, slots, slot_count * sector_size);
    if (result != UKRUN_BLOCK_OK)
        fail("reading the slots", result);
    return true;
}

// The index of the valid slot holding key, or slot_count.
uint64_t find(const char* key, size_t key_len)
{
    for (uint64_t i = 0; i < slot_count; ++i) {
        const Slot& slot = *slot_at(i);
        if (slot_valid(slot) && slot.key_len == key_len && memcmp(slot.key, key, key_len) == 0)
            return i;
    }
    return slot_count;
}

int put(const char* key, const char* value)
{
    const size_t key_len = strlen(key);
    const size_t value_len = strlen(value);
    if (key_len == 0 || key_len > key_max || value_len > value_max) {
        printf("blk: keys are 1 to %zu bytes and values at most %zu\n", key_max, value_max);
        return 1;
    }
    uint64_t index = find(key, key_len);
    // Only never-used or deleted slots are reused: a corrupt one is kept for inspection.
    for (uint64_t i = 0; index == slot_count && i < slot_count; ++i)
        if (slot_blank(i))
            index = i;
    if (index == slot_count) {
        printf("blk: the store is full (%llu slots)\n", static_cast<unsigned long long>(slot_count));
        return 1;
    }
    memset(sector, 0, sector_size);
    Slot slot{};
    slot.magic = slot_magic;
    slot.key_len = static_cast<uint16_t>(key_len);
    slot.value_len = static_cast<uint16_t>(value_len);
    memcpy(slot.key, key, key_len);
    memcpy(slot.value, value, value_len);
    slot.checksum = checksum(&slot, offsetof(Slot, checksum));
    memcpy(sector, &slot, sizeof(slot));
    write_durably(1 + index, sector);
    return 0;
}

int get(const char* key)
{
    const uint64_t index = find(key, strlen(key));
    if (index == slot_count) {
        printf("not found\n");
        return 1;
    }
    const Slot& slot = *slot_at(index);
    printf("%.*s\n", static_cast<int>(slot.value_len), slot.value);
    return 0;
}

int del(const char* key)
{
    const uint64_t index = find(key, strlen(key));
    if (index == slot_count) {
        printf("not found\n");
        return 1;
    }
    memset(sector, 0, sector_size);
    write_durably(1 + index, sector);
    return 0;
}

int list()
{
    for (uint64_t i = 0; i < slot_count; ++i) {
        const Slot& slot = *slot_at(i);
        if (slot_valid(slot))
            printf("%.*s=%.*s\n", static_cast<int>(slot.key_len), slot.key, static_cast<int>(slot.value_len),
                   slot.value);
        else if (!slot_blank(i))
            printf("blk: slot %llu is corrupt, skipped\n", static_cast<unsigned long long>(i));
    }
    return 0;
}

int usage()
{
    printf("usage: blk put KEY VALUE | get KEY | del KEY | list | format\n");
    return 2;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2)
        return usage();
    const char* command = argv[1];
    const bool writes = strcmp(command, "put") == 0 || strcmp(command, "del") == 0 || strcmp(command, "format") == 0;
    const int wanted = strcmp(command, "put") == 0 ? 4 : strcmp(command, "get") == 0 || strcmp(command, "del") == 0 ? 3 : 2;
    if (argc != wanted || (!writes && strcmp(command, "get") != 0 && strcmp(command, "list") != 0))
        return usage();

    disk = ukrun_block_acquire("storage");
    if (disk == nullptr) {
        printf("blk: no disk; run with --block storage=PATH\n");
        return 1;
    }
    sector_size = ukrun_block_sector_size(disk);
    if (sector_size < sector_min || ukrun_block_capacity(disk) < 1 + min_slots) {
        printf("blk: the disk is too small: need at least %llu sectors of at least %u bytes, it has %llu of %u\n",
               static_cast<unsigned long long>(1 + min_slots), sector_min,
               static_cast<unsigned long long>(ukrun_block_capacity(disk)), sector_size);
        return 1;
    }
    if (writes && ukrun_block_readonly(disk)) {
        printf("blk: the disk is read-only; '%s' needs to write\n", command);
        return 1;
    }
    sector = static_cast<uint8_t*>(malloc(sector_size));
    slots = static_cast<uint8_t*>(malloc(max_slots * sector_size));
    if (sector == nullptr || slots == nullptr) {
        printf("blk: out of memory\n");
        return 1;
    }

    if (strcmp(command, "format") == 0) {
        format();
        printf("formatted: %llu slots\n", static_cast<unsigned long long>(slot_count));
        return 0;
    }
    if (!open_store()) {
        // A blank disk is an empty store; it is formatted the first time it is written.
        if (strcmp(command, "get") == 0) {
            printf("not found\n");
            return 1;
        }
        if (!writes)
            return 0;
        format();
    }
    if (strcmp(command, "put") == 0)
        return put(argv[2], argv[3]);
    if (strcmp(command, "get") == 0)
        return get(argv[2]);
    if (strcmp(command, "del") == 0)
        return del(argv[2]);
    return list();
}
