// Unikernel ELF validation: untrusted image bytes become a load plan or a precise ImageError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "errors.hpp"

namespace ukrun {

// One PT_LOAD segment. Copy file_size bytes from file_offset to guest_addr, zero the rest
// up to mem_size. guest_addr is page aligned; the pages it covers are
// [guest_addr, round_up(guest_addr + mem_size, UKRUN_PAGE_SIZE)) and no other segment
// touches them, so the page tables can give each page exactly this segment's permissions.
// The flags are the ELF ones as written; x86 paging cannot express write-only or
// execute-only, so a mapper treats any present page as readable.
struct LoadSegment {
    uint64_t file_offset = 0;
    uint64_t file_size = 0;
    uint64_t guest_addr = 0;
    uint64_t mem_size = 0;
    bool readable = false;
    bool writable = false;
    bool executable = false;
};

// A device the unikernel declares in its manifest note; nothing else is ever attached.
struct ManifestDevice {
    std::string name; // [a-z0-9_-]+, shorter than UKRUN_DEVICE_NAME_MAX
    uint32_t type = 0; // enum ukrun_device_type
};

struct LoadPlan {
    uint64_t entry = 0;
    std::vector<LoadSegment> segments; // sorted by guest_addr, page ranges disjoint
    uint64_t image_end = 0;            // page-aligned end of the highest segment
    uint32_t abi_version = 0;
    std::vector<ManifestDevice> manifest; // in declaration order; index = boot info device index
    bool has_symbols = false;             // find_symbol can name anything at all
};

// Validates a whole unikernel image against the ukrun ABI and returns what to load where.
// Pure: no I/O, no global state beyond libelf's version handshake. Throws ImageError whose
// message is the reason only (the caller prefixes the file name). Segments are numbered
// as program header indices, the numbering `readelf -l` prints. Decisions beyond the ABI
// text: PT_LOAD segments with p_memsz 0 load nothing and are skipped; a segment with no
// permission flags at all is rejected (R-only is fine); a section header table is optional
// but, when present, must lie inside the file; a damaged symbol table only costs symbols.
// guest_mem_size is the RAM the image may occupy; the caller subtracts what it reserves
// (stack, tables) before asking.
LoadPlan parse_elf(std::span<const std::byte> image, uint64_t guest_mem_size);

struct SymbolHit {
    std::string name;
    uint64_t offset = 0; // addr - symbol start
};

// Names the sized .symtab function or object containing addr, for fault diagnosis only;
// called after a fault, so it re-reads the image instead of keeping tables around. The
// smallest containing symbol wins (an object inside a bigger one is the better name).
// Control characters in the (guest-controlled) name are replaced by '?'.
// Never throws: a stripped or damaged symbol table just yields nullopt.
std::optional<SymbolHit> find_symbol(std::span<const std::byte> image, uint64_t addr) noexcept;

} // namespace ukrun
