// Unikernel ELF validation: libelf decodes, and every offset and size it hands back is checked here again.
#include "elf_image.hpp"

#include <gelf.h>
#include <libelf.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include <ukrun/abi.h>

#include "align.hpp"

namespace ukrun {
namespace {

constexpr uint64_t page_size = UKRUN_PAGE_SIZE;

// Far more than any linker emits for a static image (typically 4-8), small enough that a
// hostile header cannot make us loop or allocate much.
constexpr size_t max_program_headers = 64;

constexpr size_t note_header_size = 12; // namesz, descsz, type: three 32-bit words
constexpr char note_name[] = UKRUN_NOTE_NAME;
constexpr size_t note_namesz = sizeof(note_name); // with its NUL: 6

struct ElfCloser {
    void operator()(Elf* elf) const noexcept { elf_end(elf); }
};
using ElfHandle = std::unique_ptr<Elf, ElfCloser>;

bool libelf_ready() noexcept {
    // elf_version is a once-per-process handshake; a function-local static makes it
    // thread-safe without a global constructor.
    static const bool ready = elf_version(EV_CURRENT) != EV_NONE;
    return ready;
}

// elf_memory takes char* for historical reasons, but for an ELF_K_ELF image opened this way
// (ELF_C_READ_MMAP semantics) libelf only reads: headers and native-endian section data are
// used in place, anything else is copied. The unit tests and the fuzzer hold it to that by
// parsing from a read-only mapping.
ElfHandle open_elf(std::span<const std::byte> image) noexcept {
    if (!libelf_ready() || image.empty())
        return nullptr;
    auto* bytes = const_cast<char*>(reinterpret_cast<const char*>(image.data()));
    return ElfHandle(elf_memory(bytes, image.size()));
}

// elf_errno() also clears the error, so a stale message from an earlier call (libelf keeps
// one per thread) is never blamed on this image.
std::string libelf_reason() {
    const int error = elf_errno();
    const char* message = error != 0 ? elf_errmsg(error) : nullptr;
    return message != nullptr ? std::string(message) : std::string("unknown libelf error");
}

bool checked_add(uint64_t a, uint64_t b, uint64_t& sum) noexcept {
    return !__builtin_add_overflow(a, b, &sum);
}

bool checked_round_up(uint64_t value, uint64_t& rounded) noexcept {
    if (!checked_add(value, page_size - 1, rounded))
        return false;
    rounded &= ~(page_size - 1);
    return true;
}

// True when [offset, offset + size) lies inside a file of file_size bytes (overflow-safe).
bool in_file(uint64_t offset, uint64_t size, uint64_t file_size) noexcept {
    return offset <= file_size && size <= file_size - offset;
}

uint32_t read_u32(std::span<const std::byte> bytes, size_t offset) noexcept {
    uint32_t value;
    std::memcpy(&value, bytes.data() + offset, sizeof(value));
    return value; // ELFDATA2LSB was checked and the host is x86-64
}

std::string machine_description(uint16_t machine) {
    const char* name = nullptr;
    switch (machine) {
    case EM_386: name = "i386"; break;
    case EM_ARM: name = "arm"; break;
    case EM_AARCH64: name = "aarch64"; break;
    case EM_RISCV: name = "risc-v"; break;
    case EM_PPC64: name = "ppc64"; break;
    case EM_S390: name = "s390"; break;
    default: break;
    }
    if (name != nullptr)
        return fmt::format("{} (e_machine {})", name, machine);
    return fmt::format("e_machine {}", machine);
}

// Header checks that need only e_ident, done on the raw bytes so that a wrong class or byte
// order is named precisely instead of surfacing as a generic libelf failure.
void check_ident(std::span<const std::byte> image) {
    if (image.empty())
        throw ImageError("empty file");
    const size_t magic_len = std::min<size_t>(image.size(), SELFMAG);
    if (std::memcmp(image.data(), ELFMAG, magic_len) != 0)
        throw ImageError("not an ELF file (bad magic)");
    if (image.size() < EI_NIDENT)
        throw ImageError(fmt::format(
            "truncated: file is {} bytes, shorter than an ELF header ({} bytes)", image.size(),
            sizeof(Elf64_Ehdr)));
    const auto ident = [&](size_t i) { return static_cast<unsigned>(image[i]); };
    if (ident(EI_CLASS) == ELFCLASS32)
        throw ImageError("32-bit (ELFCLASS32) images are not supported: expected ELFCLASS64");
    if (ident(EI_CLASS) != ELFCLASS64)
        throw ImageError(fmt::format("invalid ELF class {}: expected ELFCLASS64", ident(EI_CLASS)));
    if (ident(EI_DATA) == ELFDATA2MSB)
        throw ImageError("big-endian (ELFDATA2MSB) images are not supported: expected little-endian");
    if (ident(EI_DATA) != ELFDATA2LSB)
        throw ImageError(
            fmt::format("invalid ELF data encoding {}: expected little-endian", ident(EI_DATA)));
    if (ident(EI_VERSION) != EV_CURRENT)
        throw ImageError(fmt::format("unsupported ELF version {} in e_ident: expected {}",
                                     ident(EI_VERSION), EV_CURRENT));
    if (image.size() < sizeof(Elf64_Ehdr))
        throw ImageError(fmt::format(
            "truncated: file is {} bytes, shorter than an ELF header ({} bytes)", image.size(),
            sizeof(Elf64_Ehdr)));
}

// Sections are optional (only symbols come from them), but elf_memory refuses some broken
// tables with a vague "invalid ELF file data"; found by fuzzing. Naming the problem here
// keeps the reasons precise, and a table that is present must be intact.
void check_section_table(const Elf64_Ehdr& ehdr, std::span<const std::byte> image) {
    const uint64_t file_size = image.size();
    const auto truncated = [&](uint64_t entries) {
        return ImageError(fmt::format(
            "truncated: section header table (offset {:#x}, {} section{}) extends beyond the end "
            "of the file ({} bytes)",
            ehdr.e_shoff, entries, entries == 1 ? "" : "s", file_size));
    };
    if (ehdr.e_shoff == 0)
        return; // stripped of section headers: fine
    if (ehdr.e_shentsize != sizeof(Elf64_Shdr))
        throw ImageError(fmt::format("section header entry size is {} bytes, expected {}",
                                     ehdr.e_shentsize, sizeof(Elf64_Shdr)));
    // e_shnum 0 with a table means the real count is section 0's sh_size (the extended
    // numbering for more than 0xff00 sections), so that entry must exist first.
    uint64_t entries = ehdr.e_shnum;
    if (entries == 0) {
        if (!in_file(ehdr.e_shoff, sizeof(Elf64_Shdr), file_size))
            throw truncated(1);
        Elf64_Shdr first;
        std::memcpy(&first, image.data() + ehdr.e_shoff, sizeof(first));
        entries = first.sh_size;
    }
    if (entries > file_size / sizeof(Elf64_Shdr) ||
        !in_file(ehdr.e_shoff, entries * sizeof(Elf64_Shdr), file_size))
        throw truncated(entries);
}

void check_header(const Elf64_Ehdr& ehdr, uint64_t file_size) {
    if (ehdr.e_version != EV_CURRENT)
        throw ImageError(fmt::format("unsupported ELF version {} in e_version: expected {}",
                                     ehdr.e_version, EV_CURRENT));
    if (ehdr.e_machine != EM_X86_64)
        throw ImageError(fmt::format("wrong machine: built for {}, expected x86-64",
                                     machine_description(ehdr.e_machine)));
    switch (ehdr.e_type) {
    case ET_EXEC: break;
    case ET_DYN: throw ImageError("position-independent (ET_DYN) images are not supported");
    case ET_REL: throw ImageError("relocatable object (ET_REL), not a linked executable");
    case ET_CORE: throw ImageError("core dump (ET_CORE), not an executable");
    default:
        throw ImageError(fmt::format("not an executable (e_type {}): expected ET_EXEC", ehdr.e_type));
    }
    if (ehdr.e_phentsize != sizeof(Elf64_Phdr))
        throw ImageError(fmt::format("program header entry size is {} bytes, expected {}",
                                     ehdr.e_phentsize, sizeof(Elf64_Phdr)));
    // PN_XNUM (0xffff, count stored in section 0) is caught here too: no real unikernel
    // needs it, and it would make the count depend on a section header.
    if (ehdr.e_phnum > max_program_headers)
        throw ImageError(fmt::format("too many program headers ({}, at most {})", ehdr.e_phnum,
                                     max_program_headers));
    // libelf reports a table inside the ELF header as empty, and one beyond the end as a
    // generic "invalid data"; both found by fuzzing.
    if (ehdr.e_phnum != 0 && ehdr.e_phoff < sizeof(Elf64_Ehdr))
        throw ImageError(fmt::format("program header table at offset {:#x} overlaps the ELF header",
                                     ehdr.e_phoff));
    const uint64_t table_size = uint64_t{ehdr.e_phnum} * sizeof(Elf64_Phdr);
    if (!in_file(ehdr.e_phoff, table_size, file_size))
        throw ImageError(fmt::format(
            "truncated: program header table (offset {:#x}, {} bytes) extends beyond the end of "
            "the file ({} bytes)",
            ehdr.e_phoff, table_size, file_size));
}

// The file bytes a program header claims must exist; checked for every PT_LOAD and PT_NOTE
// before anything reads them.
void check_file_range(size_t index, const GElf_Phdr& phdr, uint64_t file_size) {
    uint64_t file_end;
    if (!checked_add(phdr.p_offset, phdr.p_filesz, file_end))
        throw ImageError(fmt::format("segment {}: file offset {:#x} + size {:#x} overflows", index,
                                     phdr.p_offset, phdr.p_filesz));
    if (file_end > file_size)
        throw ImageError(fmt::format(
            "truncated: segment {} (file offset {:#x}, {:#x} bytes) extends beyond the end of the "
            "file ({} bytes)",
            index, phdr.p_offset, phdr.p_filesz, file_size));
}

struct UkrunNotes {
    std::optional<uint32_t> abi_version;
    std::optional<ukrun_note_manifest> manifest;
    std::optional<uint32_t> unknown_type; // reported only once the ABI version matches
};

// Walks one PT_NOTE segment. Only notes named "ukrun" are interpreted; GNU build-id and
// property notes pass by. Guest-controlled sizes are checked against the segment before use.
void read_notes(size_t index, const GElf_Phdr& phdr, std::span<const std::byte> image,
                UkrunNotes& notes) {
    const auto bytes = image.subspan(phdr.p_offset, phdr.p_filesz);
    // The GNU convention (readelf, libelf's gelf_getnote): name and desc are padded to 8
    // bytes in an 8-aligned note segment such as .note.gnu.property, to 4 otherwise.
    const uint64_t alignment = phdr.p_align == 8 ? 8 : 4;
    size_t pos = 0;
    while (pos < bytes.size()) {
        const size_t left = bytes.size() - pos;
        const auto where = [&] {
            return fmt::format("malformed note in segment {} at offset {:#x}", index, pos);
        };
        if (left < note_header_size)
            throw ImageError(fmt::format("{}: truncated note header", where()));
        const uint32_t namesz = read_u32(bytes, pos);
        const uint32_t descsz = read_u32(bytes, pos + 4);
        const uint32_t type = read_u32(bytes, pos + 8);
        // Padding is relative to the note's start (pos is always aligned): the descriptor
        // starts at the first aligned offset after header and name. 32-bit sizes plus 12
        // plus padding cannot overflow 64 bits.
        const uint64_t desc_start = align_up(note_header_size + uint64_t{namesz}, alignment);
        if (note_header_size + uint64_t{namesz} > left || desc_start > left)
            throw ImageError(
                fmt::format("{}: name size {:#x} extends beyond the segment", where(), namesz));
        if (uint64_t{descsz} > left - desc_start)
            throw ImageError(
                fmt::format("{}: descriptor size {:#x} extends beyond the segment", where(), descsz));
        const auto name = bytes.subspan(pos + note_header_size, namesz);
        const auto desc = bytes.subspan(pos + desc_start, descsz);
        // The last note's descriptor padding may be cut off by p_filesz; tolerate that.
        pos += static_cast<size_t>(std::min<uint64_t>(desc_start + align_up(descsz, alignment), left));

        if (namesz != note_namesz || std::memcmp(name.data(), note_name, note_namesz) != 0)
            continue;
        if (type == UKRUN_NOTE_ABI) {
            if (notes.abi_version)
                throw ImageError("more than one ukrun ABI note");
            if (descsz != sizeof(ukrun_note_abi))
                throw ImageError(fmt::format("malformed ukrun ABI note: descriptor is {} bytes, expected {}",
                                             descsz, sizeof(ukrun_note_abi)));
            notes.abi_version = read_u32(desc, 0);
        } else if (type == UKRUN_NOTE_MANIFEST) {
            if (notes.manifest)
                throw ImageError("more than one ukrun manifest note");
            if (descsz != sizeof(ukrun_note_manifest))
                throw ImageError(fmt::format(
                    "malformed ukrun manifest note: descriptor is {} bytes, expected {}", descsz,
                    sizeof(ukrun_note_manifest)));
            ukrun_note_manifest manifest;
            std::memcpy(&manifest, desc.data(), sizeof(manifest));
            notes.manifest = manifest;
        } else if (!notes.unknown_type) {
            notes.unknown_type = type;
        }
    }
}

bool valid_name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

std::string quote_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f)
        return fmt::format("'{}'", c);
    return fmt::format("\\x{:02x}", u);
}

// Device names end up in command-line matching and diagnostics, so they are held to a
// small alphabet; everything here is guest-controlled.
std::vector<ManifestDevice> check_manifest(const ukrun_note_manifest& note) {
    if (note.reserved != 0)
        throw ImageError(fmt::format("malformed ukrun manifest note: reserved field is {:#x}, must be 0",
                                     note.reserved));
    if (note.count > UKRUN_MAX_DEVICES)
        throw ImageError(fmt::format("manifest declares {} devices, at most {} are supported",
                                     note.count, UKRUN_MAX_DEVICES));
    std::vector<ManifestDevice> devices;
    for (uint32_t i = 0; i < note.count; ++i) {
        const ukrun_manifest_entry& entry = note.entries[i];
        const void* nul = std::memchr(entry.name, '\0', sizeof(entry.name));
        if (nul == nullptr)
            throw ImageError(fmt::format("manifest device {}: name is not NUL-terminated within {} bytes",
                                         i, sizeof(entry.name)));
        std::string name(entry.name, static_cast<const char*>(nul));
        if (name.empty())
            throw ImageError(fmt::format("manifest device {}: name is empty", i));
        const auto bad = std::find_if_not(name.begin(), name.end(), valid_name_char);
        if (bad != name.end())
            throw ImageError(fmt::format(
                "manifest device {}: name contains invalid character {} (allowed: a-z 0-9 _ -)", i,
                quote_char(*bad)));
        if (entry.type != UKRUN_DEVICE_BLOCK && entry.type != UKRUN_DEVICE_NET)
            throw ImageError(
                fmt::format("manifest device {} (\"{}\"): unknown device type {}", i, name, entry.type));
        if (entry.reserved != 0)
            throw ImageError(fmt::format("manifest device {} (\"{}\"): reserved field is {:#x}, must be 0",
                                         i, name, entry.reserved));
        for (uint32_t j = 0; j < i; ++j) {
            if (devices[j].name == name)
                throw ImageError(fmt::format("manifest device {}: duplicate name \"{}\" (also device {})",
                                             i, name, j));
        }
        devices.push_back(ManifestDevice{std::move(name), entry.type});
    }
    return devices;
}

// A PT_LOAD that passed check_file_range, remembered with its program header index.
struct LoadHeader {
    size_t index;
    GElf_Phdr phdr;
};

LoadSegment check_load_segment(const LoadHeader& load, uint64_t guest_mem_size) {
    const size_t i = load.index;
    const GElf_Phdr& p = load.phdr;
    // The identity-mapped guest loads at p_vaddr; p_paddr is ignored on purpose.
    uint64_t end, page_end;
    if (!checked_add(p.p_vaddr, p.p_memsz, end) || !checked_round_up(end, page_end))
        throw ImageError(fmt::format("segment {}: address {:#x} + size {:#x} overflows", i,
                                     p.p_vaddr, p.p_memsz));
    if (p.p_vaddr % page_size != 0)
        throw ImageError(fmt::format("segment {}: address {:#x} is not page aligned", i, p.p_vaddr));
    if (p.p_offset % page_size != p.p_vaddr % page_size)
        throw ImageError(fmt::format(
            "segment {}: file offset {:#x} is not congruent to address {:#x} modulo the page size", i,
            p.p_offset, p.p_vaddr));
    if (p.p_vaddr < UKRUN_GUEST_LOAD_MIN)
        throw ImageError(fmt::format("segment {} at {:#x} is below the lowest load address {:#x}", i,
                                     p.p_vaddr, UKRUN_GUEST_LOAD_MIN));
    if (page_end > guest_mem_size)
        throw ImageError(fmt::format(
            "segment {} ({:#x}-{:#x}, page aligned) does not fit in guest memory ({:#x} bytes)", i,
            p.p_vaddr, page_end, guest_mem_size));
    const bool readable = (p.p_flags & PF_R) != 0;
    const bool writable = (p.p_flags & PF_W) != 0;
    const bool executable = (p.p_flags & PF_X) != 0;
    if (writable && executable)
        throw ImageError(fmt::format("segment {} is both writable and executable", i));
    // A mapping nobody may touch is a linker-script mistake, not a guard page: guard pages
    // are the monitor's business.
    if (!readable && !writable && !executable)
        throw ImageError(fmt::format("segment {} has no permissions (none of read, write, execute)", i));
    return LoadSegment{p.p_offset, p.p_filesz, p.p_vaddr, p.p_memsz, readable, writable, executable};
}

// Calls visit(name, value, size) for each sized, defined STT_FUNC/STT_OBJECT in a .symtab
// until it returns true. Quietly skips anything damaged: symbols are a diagnostic nicety.
template <class Visit>
void visit_symbols(Elf* elf, std::span<const std::byte> image, Visit visit) {
    size_t section_count = 0;
    if (elf_getshdrnum(elf, &section_count) != 0)
        return;
    Elf_Scn* scn = nullptr;
    while ((scn = elf_nextscn(elf, scn)) != nullptr) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_SYMTAB)
            continue;
        if (shdr.sh_entsize != sizeof(Elf64_Sym) || !in_file(shdr.sh_offset, shdr.sh_size, image.size()))
            continue;
        if (shdr.sh_link == 0 || shdr.sh_link >= section_count)
            continue;
        GElf_Shdr strtab_shdr;
        Elf_Scn* strtab_scn = elf_getscn(elf, shdr.sh_link);
        if (strtab_scn == nullptr || gelf_getshdr(strtab_scn, &strtab_shdr) == nullptr ||
            strtab_shdr.sh_type != SHT_STRTAB ||
            !in_file(strtab_shdr.sh_offset, strtab_shdr.sh_size, image.size()))
            continue;
        const auto strtab = image.subspan(strtab_shdr.sh_offset, strtab_shdr.sh_size);
        Elf_Data* data = elf_getdata(scn, nullptr);
        if (data == nullptr)
            continue;
        const uint64_t count = std::min<uint64_t>(shdr.sh_size / sizeof(Elf64_Sym), INT_MAX);
        for (uint64_t n = 0; n < count; ++n) {
            GElf_Sym sym;
            if (gelf_getsym(data, static_cast<int>(n), &sym) == nullptr)
                break;
            const unsigned type = GELF_ST_TYPE(sym.st_info);
            if ((type != STT_FUNC && type != STT_OBJECT) || sym.st_shndx == SHN_UNDEF ||
                sym.st_size == 0 || sym.st_name == 0 || sym.st_name >= strtab.size())
                continue;
            // Our own check: the name must end inside the string table.
            const auto* start = reinterpret_cast<const char*>(strtab.data()) + sym.st_name;
            const void* nul = std::memchr(start, '\0', strtab.size() - sym.st_name);
            if (nul == nullptr)
                continue;
            if (visit(std::string_view(start, static_cast<const char*>(nul)), sym.st_value, sym.st_size))
                return;
        }
    }
}

} // namespace

LoadPlan parse_elf(std::span<const std::byte> image, uint64_t guest_mem_size) {
    check_ident(image);
    const uint64_t file_size = image.size();
    // The header is judged from the raw bytes before libelf sees the file, so that its
    // reasons come first and are ours, not libelf's; libelf then decodes the same bytes.
    Elf64_Ehdr raw_ehdr;
    std::memcpy(&raw_ehdr, image.data(), sizeof(raw_ehdr));
    check_header(raw_ehdr, file_size);
    check_section_table(raw_ehdr, image);

    if (!libelf_ready())
        throw ImageError("libelf cannot be initialised (version mismatch)");
    (void)elf_errno(); // start from a clean error state
    const ElfHandle elf = open_elf(image);
    if (!elf || elf_kind(elf.get()) != ELF_K_ELF)
        throw ImageError(fmt::format("unreadable ELF: {}", libelf_reason()));
    GElf_Ehdr ehdr;
    if (gelf_getehdr(elf.get(), &ehdr) == nullptr)
        throw ImageError(fmt::format("unreadable ELF header: {}", libelf_reason()));

    // With e_phnum 0 libelf may still judge e_phoff, which is meaningless then.
    size_t phnum = 0;
    if (ehdr.e_phnum != 0 && (elf_getphdrnum(elf.get(), &phnum) != 0 || phnum != ehdr.e_phnum))
        throw ImageError(fmt::format("unreadable program header table: {}", libelf_reason()));

    // Pass 1: structure. Everything that decides whether bytes may be read at all, and the
    // notes, so that a mismatched ABI is reported before layout rules that may have changed.
    std::vector<LoadHeader> loads;
    UkrunNotes notes;
    for (size_t i = 0; i < phnum; ++i) {
        GElf_Phdr phdr;
        if (gelf_getphdr(elf.get(), static_cast<int>(i), &phdr) == nullptr)
            throw ImageError(fmt::format("unreadable program header {}: {}", i, libelf_reason()));
        switch (phdr.p_type) {
        case PT_INTERP:
            throw ImageError("not a static executable: it has an interpreter (PT_INTERP)");
        case PT_DYNAMIC:
            throw ImageError("not a static executable: it has a dynamic section (PT_DYNAMIC)");
        case PT_LOAD:
            if (phdr.p_filesz > phdr.p_memsz)
                throw ImageError(fmt::format("segment {}: file size {:#x} is larger than memory size {:#x}",
                                             i, phdr.p_filesz, phdr.p_memsz));
            check_file_range(i, phdr, file_size);
            loads.push_back(LoadHeader{i, phdr});
            break;
        case PT_NOTE:
            check_file_range(i, phdr, file_size);
            read_notes(i, phdr, image, notes);
            break;
        default:
            break; // PT_GNU_STACK, PT_GNU_PROPERTY, PT_TLS, ...: nothing to load or refuse
        }
    }

    if (!notes.abi_version)
        throw ImageError("no ukrun ABI note: not built with the ukrun bindings");
    if (*notes.abi_version != UKRUN_ABI_VERSION)
        throw ImageError(fmt::format("built for ukrun ABI {}, this ukrun speaks ABI {}",
                                     *notes.abi_version, UKRUN_ABI_VERSION));
    if (notes.unknown_type)
        throw ImageError(fmt::format("unknown ukrun note type {}", *notes.unknown_type));

    // Pass 2: layout.
    LoadPlan plan;
    plan.entry = ehdr.e_entry;
    plan.abi_version = *notes.abi_version;
    const LoadHeader* previous = nullptr;
    for (const LoadHeader& load : loads) {
        if (load.phdr.p_memsz == 0)
            continue; // loads nothing and owns no page; linkers occasionally emit these
        LoadSegment segment = check_load_segment(load, guest_mem_size);
        if (previous != nullptr) {
            const uint64_t previous_end = align_up(previous->phdr.p_vaddr + previous->phdr.p_memsz, page_size);
            if (load.phdr.p_vaddr < previous->phdr.p_vaddr)
                throw ImageError(fmt::format("segments {} and {} are not sorted by address ({:#x} after {:#x})",
                                             previous->index, load.index, load.phdr.p_vaddr,
                                             previous->phdr.p_vaddr));
            // Compared page-rounded, because permissions are per page.
            if (load.phdr.p_vaddr < previous_end)
                throw ImageError(fmt::format("segments {} and {} overlap: page {:#x} belongs to both",
                                             previous->index, load.index, load.phdr.p_vaddr));
        }
        plan.segments.push_back(segment);
        previous = &load;
    }
    if (plan.segments.empty())
        throw ImageError("no loadable (PT_LOAD) segments");
    const LoadSegment& last = plan.segments.back();
    plan.image_end = align_up(last.guest_addr + last.mem_size, page_size);

    const auto containing = std::find_if(plan.segments.begin(), plan.segments.end(), [&](const LoadSegment& s) {
        return plan.entry >= s.guest_addr && plan.entry - s.guest_addr < s.mem_size;
    });
    if (containing == plan.segments.end())
        throw ImageError(fmt::format("entry point {:#x} is not inside an executable segment (it is in no segment)",
                                     plan.entry));
    if (!containing->executable)
        throw ImageError(fmt::format(
            "entry point {:#x} is not inside an executable segment (its segment at {:#x} is not executable)",
            plan.entry, containing->guest_addr));

    if (notes.manifest)
        plan.manifest = check_manifest(*notes.manifest);

    visit_symbols(elf.get(), image, [&](std::string_view, uint64_t, uint64_t) {
        plan.has_symbols = true;
        return true;
    });
    return plan;
}

std::optional<SymbolHit> find_symbol(std::span<const std::byte> image, uint64_t addr) noexcept {
    try {
        if (image.size() < sizeof(Elf64_Ehdr) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0 ||
            static_cast<unsigned>(image[EI_CLASS]) != ELFCLASS64 ||
            static_cast<unsigned>(image[EI_DATA]) != ELFDATA2LSB)
            return std::nullopt;
        const ElfHandle elf = open_elf(image);
        if (!elf || elf_kind(elf.get()) != ELF_K_ELF)
            return std::nullopt;
        std::optional<SymbolHit> best;
        uint64_t best_size = 0;
        visit_symbols(elf.get(), image, [&](std::string_view name, uint64_t value, uint64_t size) {
            if (addr >= value && addr - value < size && (!best || size < best_size)) {
                // The name is guest-controlled and goes to a terminal: no control bytes.
                std::string printable(name);
                std::replace_if(printable.begin(), printable.end(),
                                [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }, '?');
                best = SymbolHit{std::move(printable), addr - value};
                best_size = size;
            }
            return false;
        });
        return best;
    } catch (...) {
        return std::nullopt; // only bad_alloc can get here; a diagnosis aid must not mask the fault
    }
}

} // namespace ukrun
