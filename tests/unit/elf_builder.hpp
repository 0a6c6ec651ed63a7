// Test helper: crafts ukrun ELF64 images in memory so that each test can break exactly one field.
#pragma once

#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <ukrun/abi.h>

namespace ukrun::test {

using Bytes = std::vector<std::byte>;

inline uint64_t align_to(uint64_t value, uint64_t alignment) {
    return (value + alignment - 1) / alignment * alignment;
}

template <class T>
void append(Bytes& out, const T& value) {
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    out.insert(out.end(), p, p + sizeof(T));
}

inline void pad_to(Bytes& out, uint64_t alignment) {
    out.resize(align_to(out.size(), alignment), std::byte{0});
}

inline Bytes filled(size_t size, uint8_t value) { return Bytes(size, std::byte{value}); }

// One ELF note, name and desc padded to `alignment` (4 is the ELF64 GNU convention).
inline Bytes make_note(const std::string& name, uint32_t type, const Bytes& desc, uint64_t alignment = 4,
                       uint32_t namesz_override = 0) {
    Bytes out;
    const auto namesz = static_cast<uint32_t>(name.size() + 1);
    append(out, namesz_override != 0 ? namesz_override : namesz);
    append(out, static_cast<uint32_t>(desc.size()));
    append(out, type);
    for (char c : name)
        out.push_back(static_cast<std::byte>(c));
    out.push_back(std::byte{0});
    pad_to(out, alignment);
    out.insert(out.end(), desc.begin(), desc.end());
    pad_to(out, alignment);
    return out;
}

inline Bytes abi_note(uint32_t version = UKRUN_ABI_VERSION) {
    Bytes desc;
    append(desc, ukrun_note_abi{version});
    return make_note(UKRUN_NOTE_NAME, UKRUN_NOTE_ABI, desc);
}

struct DeviceDecl {
    std::string name;
    uint32_t type;
};

inline ukrun_note_manifest make_manifest(const std::vector<DeviceDecl>& devices) {
    ukrun_note_manifest m{};
    m.count = static_cast<uint32_t>(devices.size());
    for (size_t i = 0; i < devices.size() && i < UKRUN_MAX_DEVICES; ++i) {
        std::memcpy(m.entries[i].name, devices[i].name.data(),
                    std::min(devices[i].name.size(), sizeof(m.entries[i].name)));
        m.entries[i].type = devices[i].type;
    }
    return m;
}

inline Bytes manifest_note(const ukrun_note_manifest& manifest) {
    Bytes desc;
    append(desc, manifest);
    return make_note(UKRUN_NOTE_NAME, UKRUN_NOTE_MANIFEST, desc);
}

struct Segment {
    Elf64_Phdr phdr{}; // p_offset and p_filesz are filled in by build()
    Bytes contents;
};

struct Symbol {
    std::string name;
    uint64_t value;
    uint64_t size;
    unsigned type; // STT_*
};

inline Segment load(uint32_t flags, uint64_t vaddr, Bytes contents, uint64_t mem_size) {
    Segment s;
    s.phdr.p_type = PT_LOAD;
    s.phdr.p_flags = flags;
    s.phdr.p_vaddr = vaddr;
    s.phdr.p_paddr = vaddr;
    s.phdr.p_memsz = mem_size;
    s.phdr.p_align = UKRUN_PAGE_SIZE;
    s.contents = std::move(contents);
    return s;
}

inline Segment note_segment(Bytes notes, uint64_t alignment = 4) {
    Segment s;
    s.phdr.p_type = PT_NOTE;
    s.phdr.p_flags = PF_R;
    s.phdr.p_align = alignment;
    s.contents = std::move(notes);
    return s;
}

inline Segment plain_segment(uint32_t type) {
    Segment s;
    s.phdr.p_type = type;
    s.phdr.p_flags = PF_R;
    s.phdr.p_align = 8;
    return s;
}

// The default is a small but complete image: text (R+X), rodata (R), data+bss (R+W), a note
// segment with the ABI note and a two-device manifest, and a .symtab.
struct ElfBuilder {
    static constexpr uint64_t text = 0x100000;
    static constexpr uint64_t rodata = 0x101000;
    static constexpr uint64_t data = 0x102000;
    static constexpr uint64_t entry_point = text + 0x10;

    uint64_t entry = entry_point;
    uint16_t type = ET_EXEC;
    uint16_t machine = EM_X86_64;
    std::vector<Segment> segments;
    std::vector<Symbol> symbols;
    bool with_sections = true;

    ElfBuilder() {
        segments.push_back(load(PF_R | PF_X, text, filled(0x80, 0xf4), 0x80));
        segments.push_back(load(PF_R, rodata, filled(0x20, 0x11), 0x20));
        segments.push_back(load(PF_R | PF_W, data, filled(0x10, 0x22), 0x3000));
        Bytes notes = abi_note();
        const Bytes manifest = manifest_note(make_manifest({{"disk0", UKRUN_DEVICE_BLOCK}, {"net-0", UKRUN_DEVICE_NET}}));
        notes.insert(notes.end(), manifest.begin(), manifest.end());
        segments.push_back(note_segment(std::move(notes)));
        symbols = {
            {"_start", entry_point, 0x20, STT_FUNC},
            {"helper", text + 0x30, 0x10, STT_FUNC},
            {"label", text + 0x40, 0, STT_FUNC}, // unsized: never a hit
            {"table", data, 0x10, STT_OBJECT},
            {"note", data + 0x100, 0x40, STT_NOTYPE}, // not a function or object
        };
    }

    // Index into `segments` of the note segment, for tests that replace its notes.
    size_t note_index() const {
        for (size_t i = 0; i < segments.size(); ++i)
            if (segments[i].phdr.p_type == PT_NOTE)
                return i;
        return segments.size();
    }

    void set_notes(Bytes notes) { segments[note_index()].contents = std::move(notes); }

    Bytes build() const {
        Bytes out(sizeof(Elf64_Ehdr) + segments.size() * sizeof(Elf64_Phdr), std::byte{0});
        std::vector<Elf64_Phdr> phdrs;
        for (const Segment& s : segments) {
            Elf64_Phdr p = s.phdr;
            if (p.p_type == PT_LOAD) {
                // Page-congruent file offset, as a linker would place it.
                pad_to(out, UKRUN_PAGE_SIZE);
                out.resize(out.size() + p.p_vaddr % UKRUN_PAGE_SIZE, std::byte{0});
            } else {
                pad_to(out, 8);
            }
            p.p_offset = out.size();
            p.p_filesz = s.contents.size();
            out.insert(out.end(), s.contents.begin(), s.contents.end());
            phdrs.push_back(p);
        }

        Elf64_Ehdr e{};
        std::memcpy(e.e_ident, ELFMAG, SELFMAG);
        e.e_ident[EI_CLASS] = ELFCLASS64;
        e.e_ident[EI_DATA] = ELFDATA2LSB;
        e.e_ident[EI_VERSION] = EV_CURRENT;
        e.e_ident[EI_OSABI] = ELFOSABI_SYSV;
        e.e_type = type;
        e.e_machine = machine;
        e.e_version = EV_CURRENT;
        e.e_entry = entry;
        e.e_phoff = sizeof(Elf64_Ehdr);
        e.e_ehsize = sizeof(Elf64_Ehdr);
        e.e_phentsize = sizeof(Elf64_Phdr);
        e.e_phnum = static_cast<uint16_t>(segments.size());
        e.e_shentsize = sizeof(Elf64_Shdr);
        if (with_sections)
            append_sections(out, e);
        std::memcpy(out.data(), &e, sizeof(e));
        std::memcpy(out.data() + sizeof(e), phdrs.data(), phdrs.size() * sizeof(Elf64_Phdr));
        return out;
    }

private:
    // Sections: null, .symtab, .strtab, .shstrtab, and the header table at the end.
    void append_sections(Bytes& out, Elf64_Ehdr& e) const {
        Bytes strtab{std::byte{0}};
        Bytes symtab;
        append(symtab, Elf64_Sym{});
        for (const Symbol& s : symbols) {
            Elf64_Sym sym{};
            sym.st_name = static_cast<uint32_t>(strtab.size());
            sym.st_info = static_cast<unsigned char>(ELF64_ST_INFO(STB_GLOBAL, s.type));
            sym.st_shndx = SHN_ABS;
            sym.st_value = s.value;
            sym.st_size = s.size;
            append(symtab, sym);
            for (char c : s.name)
                strtab.push_back(static_cast<std::byte>(c));
            strtab.push_back(std::byte{0});
        }
        const std::string names = std::string("\0.symtab\0.strtab\0.shstrtab\0", 27);
        Bytes shstrtab;
        for (char c : names)
            shstrtab.push_back(static_cast<std::byte>(c));

        std::vector<Elf64_Shdr> shdrs(4);
        const auto place = [&](Elf64_Shdr& sh, const Bytes& body, uint64_t alignment) {
            pad_to(out, alignment);
            sh.sh_offset = out.size();
            sh.sh_size = body.size();
            sh.sh_addralign = alignment;
            out.insert(out.end(), body.begin(), body.end());
        };
        shdrs[1].sh_name = 1;
        shdrs[1].sh_type = SHT_SYMTAB;
        shdrs[1].sh_link = 2;
        shdrs[1].sh_info = 1; // one local (the null symbol)
        shdrs[1].sh_entsize = sizeof(Elf64_Sym);
        place(shdrs[1], symtab, 8);
        shdrs[2].sh_name = 9;
        shdrs[2].sh_type = SHT_STRTAB;
        place(shdrs[2], strtab, 1);
        shdrs[3].sh_name = 17;
        shdrs[3].sh_type = SHT_STRTAB;
        place(shdrs[3], shstrtab, 1);
        pad_to(out, 8);
        e.e_shoff = out.size();
        e.e_shnum = static_cast<uint16_t>(shdrs.size());
        e.e_shstrndx = 3;
        for (const Elf64_Shdr& sh : shdrs)
            append(out, sh);
    }
};

inline void patch_ehdr(Bytes& image, const std::function<void(Elf64_Ehdr&)>& change) {
    Elf64_Ehdr e;
    std::memcpy(&e, image.data(), sizeof(e));
    change(e);
    std::memcpy(image.data(), &e, sizeof(e));
}

inline void patch_phdr(Bytes& image, size_t index, const std::function<void(Elf64_Phdr&)>& change) {
    Elf64_Ehdr e;
    std::memcpy(&e, image.data(), sizeof(e));
    Elf64_Phdr p;
    const size_t at = e.e_phoff + index * sizeof(Elf64_Phdr);
    std::memcpy(&p, image.data() + at, sizeof(p));
    change(p);
    std::memcpy(image.data() + at, &p, sizeof(p));
}

// A read-only copy that ends exactly at a PROT_NONE guard page: a write faults, and so does
// a read even one byte past the end, also inside libelf, which ASan does not instrument.
class GuardedCopy {
public:
    explicit GuardedCopy(std::span<const std::byte> bytes) {
        const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        data_pages_ = align_to(bytes.size(), page);
        void* base = mmap(nullptr, data_pages_ + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
            throw std::bad_alloc();
        base_ = static_cast<std::byte*>(base);
        std::byte* start = base_ + data_pages_ - bytes.size();
        if (!bytes.empty())
            std::memcpy(start, bytes.data(), bytes.size());
        if (data_pages_ != 0)
            mprotect(base_, data_pages_, PROT_READ);
        mprotect(base_ + data_pages_, page, PROT_NONE);
        view_ = std::span<const std::byte>(start, bytes.size());
    }
    ~GuardedCopy() { munmap(base_, data_pages_ + static_cast<size_t>(sysconf(_SC_PAGESIZE))); }
    GuardedCopy(const GuardedCopy&) = delete;
    GuardedCopy& operator=(const GuardedCopy&) = delete;

    std::span<const std::byte> bytes() const { return view_; }

private:
    std::byte* base_ = nullptr;
    size_t data_pages_ = 0;
    std::span<const std::byte> view_;
};

} // namespace ukrun::test
