// Unit tests of parse_elf and find_symbol: one crafted image per rejection reason, plus robustness loops.
#include <catch2/catch.hpp>

#include <limits>
#include <string>

#include "elf_builder.hpp"
#include "elf_image.hpp"

using namespace ukrun;
using namespace ukrun::test;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

namespace {

constexpr uint64_t mem_size = 64ull << 20;

// Parses from a read-only copy that ends at a guard page, so every test also checks that
// neither we nor libelf write to the image or read past its end.
LoadPlan parse(const Bytes& image, uint64_t guest_mem = mem_size) {
    const GuardedCopy copy(image);
    return parse_elf(copy.bytes(), guest_mem);
}

std::string reason(const Bytes& image, uint64_t guest_mem = mem_size) {
    try {
        parse(image, guest_mem);
    } catch (const ImageError& e) {
        REQUIRE(e.code() == ExitCode::BadImage);
        return e.what();
    }
    return "(accepted)";
}

Bytes bytes_of(const std::string& s) {
    Bytes out;
    for (char c : s)
        out.push_back(static_cast<std::byte>(c));
    return out;
}

Bytes with_manifest(const ukrun_note_manifest& manifest) {
    Bytes notes = abi_note();
    const Bytes m = manifest_note(manifest);
    notes.insert(notes.end(), m.begin(), m.end());
    return notes;
}

Bytes image_with_manifest(const ukrun_note_manifest& manifest) {
    ElfBuilder b;
    b.set_notes(with_manifest(manifest));
    return b.build();
}

Bytes image_with_notes(Bytes notes) {
    ElfBuilder b;
    b.set_notes(std::move(notes));
    return b.build();
}

} // namespace

TEST_CASE("a valid image parses to the expected load plan", "[elf]") {
    const LoadPlan plan = parse(ElfBuilder().build());
    CHECK(plan.entry == ElfBuilder::entry_point);
    CHECK(plan.abi_version == UKRUN_ABI_VERSION);
    CHECK(plan.image_end == 0x105000);
    CHECK(plan.has_symbols);
    REQUIRE(plan.segments.size() == 3);

    const LoadSegment& text = plan.segments[0];
    CHECK(text.file_offset == 0x1000);
    CHECK(text.file_size == 0x80);
    CHECK(text.guest_addr == 0x100000);
    CHECK(text.mem_size == 0x80);
    CHECK((text.readable && !text.writable && text.executable));

    const LoadSegment& rodata = plan.segments[1];
    CHECK(rodata.file_offset == 0x2000);
    CHECK(rodata.guest_addr == 0x101000);
    CHECK((rodata.readable && !rodata.writable && !rodata.executable));

    const LoadSegment& data = plan.segments[2];
    CHECK(data.file_offset == 0x3000);
    CHECK(data.file_size == 0x10);
    CHECK(data.guest_addr == 0x102000);
    CHECK(data.mem_size == 0x3000);
    CHECK((data.readable && data.writable && !data.executable));

    REQUIRE(plan.manifest.size() == 2);
    CHECK(plan.manifest[0].name == "disk0");
    CHECK(plan.manifest[0].type == UKRUN_DEVICE_BLOCK);
    CHECK(plan.manifest[1].name == "net-0");
    CHECK(plan.manifest[1].type == UKRUN_DEVICE_NET);
}

TEST_CASE("accepted variations", "[elf]") {
    SECTION("stripped of section headers: no symbols, same plan") {
        ElfBuilder b;
        b.with_sections = false;
        const LoadPlan plan = parse(b.build());
        CHECK_FALSE(plan.has_symbols);
        CHECK(plan.segments.size() == 3);
    }
    SECTION("no manifest note means no devices") {
        const LoadPlan plan = parse(image_with_notes(abi_note()));
        CHECK(plan.manifest.empty());
    }
    SECTION("the full eight devices") {
        std::vector<DeviceDecl> devices;
        for (int i = 0; i < 8; ++i)
            devices.push_back({"dev_" + std::to_string(i), UKRUN_DEVICE_BLOCK});
        CHECK(parse(image_with_manifest(make_manifest(devices))).manifest.size() == 8);
    }
    SECTION("entries beyond count are ignored") {
        ukrun_note_manifest m = make_manifest({{"disk0", UKRUN_DEVICE_BLOCK}});
        m.entries[5].type = 99;
        m.entries[5].name[0] = 'X';
        CHECK(parse(image_with_manifest(m)).manifest.size() == 1);
    }
    SECTION("p_paddr is ignored: the guest is identity mapped") {
        Bytes image = ElfBuilder().build();
        patch_phdr(image, 1, [](Elf64_Phdr& p) { p.p_paddr = 0xdead0000; });
        CHECK(parse(image).segments[1].guest_addr == 0x101000);
    }
    SECTION("PT_LOAD with p_memsz 0 is skipped, wherever it claims to be") {
        ElfBuilder b;
        b.segments.insert(b.segments.begin() + 1, load(PF_R | PF_W | PF_X, 0x123, {}, 0));
        const LoadPlan plan = parse(b.build());
        CHECK(plan.segments.size() == 3);
    }
    SECTION("foreign notes pass by, and an 8-aligned note segment is read with 8-byte padding") {
        Bytes notes = make_note("GNU", 3 /* NT_GNU_BUILD_ID */, filled(20, 0xab), 8);
        const Bytes abi = make_note(UKRUN_NOTE_NAME, UKRUN_NOTE_ABI, Bytes(4, std::byte{0}), 8);
        notes.insert(notes.end(), abi.begin(), abi.end());
        notes[notes.size() - 8] = std::byte{UKRUN_ABI_VERSION}; // desc starts 24 bytes into the note
        ElfBuilder b;
        b.segments[b.note_index()] = note_segment(notes, 8);
        CHECK(parse(b.build()).abi_version == UKRUN_ABI_VERSION);
    }
    SECTION("a note named ukrun without its NUL is someone else's") {
        Bytes notes = abi_note();
        const Bytes other = make_note(UKRUN_NOTE_NAME, 77, {}, 4, 5);
        notes.insert(notes.end(), other.begin(), other.end());
        CHECK(parse(image_with_notes(notes)).abi_version == UKRUN_ABI_VERSION);
    }
    SECTION("the image may end exactly at the end of guest memory") {
        CHECK(parse(ElfBuilder().build(), 0x105000).image_end == 0x105000);
    }
    SECTION("the last note's padding may be cut off by p_filesz") {
        Bytes notes = make_note("x", 1, filled(1, 1)); // desc of 1 byte, padded to 4
        const Bytes abi = abi_note();
        notes.insert(notes.begin(), abi.begin(), abi.end());
        notes.resize(notes.size() - 3);
        CHECK(parse(image_with_notes(notes)).abi_version == UKRUN_ABI_VERSION);
    }
}

TEST_CASE("file-level rejections", "[elf]") {
    const Bytes valid = ElfBuilder().build();

    SECTION("empty") { CHECK_THAT(reason({}), Equals("empty file")); }
    SECTION("bad magic") {
        CHECK_THAT(reason(bytes_of("MZ")), Equals("not an ELF file (bad magic)"));
        Bytes image = valid;
        image[1] = std::byte{'X'};
        CHECK_THAT(reason(image), Equals("not an ELF file (bad magic)"));
    }
    SECTION("shorter than an ELF header") {
        CHECK_THAT(reason(Bytes(valid.begin(), valid.begin() + 3)),
                   Equals("truncated: file is 3 bytes, shorter than an ELF header (64 bytes)"));
        CHECK_THAT(reason(Bytes(valid.begin(), valid.begin() + 40)),
                   Equals("truncated: file is 40 bytes, shorter than an ELF header (64 bytes)"));
    }
    SECTION("wrong class") {
        Bytes image = valid;
        image[EI_CLASS] = std::byte{ELFCLASS32};
        CHECK_THAT(reason(image), Contains("32-bit (ELFCLASS32) images are not supported"));
        image[EI_CLASS] = std::byte{7};
        CHECK_THAT(reason(image), Equals("invalid ELF class 7: expected ELFCLASS64"));
    }
    SECTION("wrong data encoding") {
        Bytes image = valid;
        image[EI_DATA] = std::byte{ELFDATA2MSB};
        CHECK_THAT(reason(image), Contains("big-endian (ELFDATA2MSB) images are not supported"));
        image[EI_DATA] = std::byte{0};
        CHECK_THAT(reason(image), Equals("invalid ELF data encoding 0: expected little-endian"));
    }
    SECTION("wrong version") {
        Bytes image = valid;
        image[EI_VERSION] = std::byte{2};
        CHECK_THAT(reason(image), Equals("unsupported ELF version 2 in e_ident: expected 1"));
        image = valid;
        patch_ehdr(image, [](Elf64_Ehdr& e) { e.e_version = 5; });
        CHECK_THAT(reason(image), Equals("unsupported ELF version 5 in e_version: expected 1"));
    }
    SECTION("wrong machine") {
        ElfBuilder b;
        b.machine = EM_AARCH64;
        CHECK_THAT(reason(b.build()), Equals("wrong machine: built for aarch64 (e_machine 183), expected x86-64"));
        b.machine = 9999;
        CHECK_THAT(reason(b.build()), Equals("wrong machine: built for e_machine 9999, expected x86-64"));
    }
    SECTION("wrong type") {
        ElfBuilder b;
        b.type = ET_DYN;
        CHECK_THAT(reason(b.build()), Equals("position-independent (ET_DYN) images are not supported"));
        b.type = ET_REL;
        CHECK_THAT(reason(b.build()), Equals("relocatable object (ET_REL), not a linked executable"));
        b.type = ET_CORE;
        CHECK_THAT(reason(b.build()), Equals("core dump (ET_CORE), not an executable"));
        b.type = ET_NONE;
        CHECK_THAT(reason(b.build()), Equals("not an executable (e_type 0): expected ET_EXEC"));
    }
    SECTION("program header entry size") {
        Bytes image = valid;
        patch_ehdr(image, [](Elf64_Ehdr& e) { e.e_phentsize = 32; });
        CHECK_THAT(reason(image), Equals("program header entry size is 32 bytes, expected 56"));
    }
    SECTION("too many program headers") {
        Bytes image = valid;
        patch_ehdr(image, [](Elf64_Ehdr& e) { e.e_phnum = 65; });
        CHECK_THAT(reason(image), Equals("too many program headers (65, at most 64)"));
        patch_ehdr(image, [](Elf64_Ehdr& e) { e.e_phnum = PN_XNUM; });
        CHECK_THAT(reason(image), Equals("too many program headers (65535, at most 64)"));
    }
    SECTION("program header table beyond the end of the file") {
        Bytes image = valid;
        patch_ehdr(image, [&](Elf64_Ehdr& e) { e.e_phoff = image.size() - 100; });
        CHECK_THAT(reason(image), Contains("truncated: program header table (offset"));
        CHECK_THAT(reason(image), Contains("224 bytes) extends beyond the end of the file"));
        patch_ehdr(image, [](Elf64_Ehdr& e) { e.e_phoff = std::numeric_limits<uint64_t>::max() - 8; });
        CHECK_THAT(reason(image), Contains("truncated: program header table (offset 0xfffffffffffffff7"));
    }
    SECTION("program header table inside the ELF header (found by fuzzing)") {
        Bytes image = valid;
        patch_ehdr(image, [](Elf64_Ehdr& e) { e.e_phoff = 0; });
        CHECK_THAT(reason(image), Equals("program header table at offset 0x0 overlaps the ELF header"));
    }
    SECTION("no program headers, e_phoff at the end of the file (found by fuzzing)") {
        Bytes image(valid.begin(), valid.begin() + 64);
        patch_ehdr(image, [](Elf64_Ehdr& e) {
            e.e_phnum = 0;
            e.e_shoff = 0;
        });
        CHECK_THAT(reason(image), Equals("no ukrun ABI note: not built with the ukrun bindings"));
    }
    SECTION("section header table beyond the end of the file") {
        Bytes image = valid;
        patch_ehdr(image, [](Elf64_Ehdr& e) { e.e_shoff = 0x100000; });
        CHECK_THAT(reason(image), Equals("truncated: section header table (offset 0x100000, 4 sections) extends "
                                         "beyond the end of the file (13144 bytes)"));
        // e_shnum 0 announces an extended count in section 0, which must exist (found by fuzzing).
        patch_ehdr(image, [](Elf64_Ehdr& e) {
            e.e_shoff = 1;
            e.e_shnum = 0;
            e.e_phnum = 0;
        });
        image.resize(66);
        CHECK_THAT(reason(image), Contains("truncated: section header table (offset 0x1, "));
        image.resize(64);
        CHECK_THAT(reason(image), Equals("truncated: section header table (offset 0x1, 1 section) extends beyond "
                                         "the end of the file (64 bytes)"));
        image = valid;
        image.resize(image.size() - 1);
        CHECK_THAT(reason(image), Contains("truncated: section header table"));
    }
    SECTION("section header entry size") {
        Bytes image = valid;
        patch_ehdr(image, [](Elf64_Ehdr& e) { e.e_shentsize = 40; });
        CHECK_THAT(reason(image), Equals("section header entry size is 40 bytes, expected 64"));
    }
    SECTION("a damaged but present section table is only a loss of symbols") {
        Bytes image = valid;
        patch_ehdr(image, [](Elf64_Ehdr& e) { e.e_shstrndx = 900; });
        CHECK(parse(image).has_symbols);
    }
    SECTION("segment file range beyond the end of the file") {
        Bytes image = valid;
        patch_phdr(image, 2, [](Elf64_Phdr& p) { p.p_filesz = p.p_memsz = 0x100000; });
        CHECK_THAT(reason(image), Contains("truncated: segment 2 (file offset 0x3000, 0x100000 bytes) extends "
                                           "beyond the end of the file"));
        ElfBuilder stripped; // with sections, the cut would first be reported for their table
        stripped.with_sections = false;
        image = stripped.build();
        image.resize(0x2010); // cuts rodata (0x2000 + 0x20)
        CHECK_THAT(reason(image), Equals("truncated: segment 1 (file offset 0x2000, 0x20 bytes) extends beyond "
                                         "the end of the file (8208 bytes)"));
    }
    SECTION("note segment beyond the end of the file") {
        Bytes image = valid;
        patch_phdr(image, 3, [](Elf64_Phdr& p) { p.p_filesz = 0x10000; });
        CHECK_THAT(reason(image), Contains("truncated: segment 3 (file offset 0x3010, 0x10000 bytes)"));
    }
}

TEST_CASE("program header rejections", "[elf]") {
    const Bytes valid = ElfBuilder().build();

    SECTION("not static") {
        ElfBuilder b;
        b.segments.insert(b.segments.begin(), plain_segment(PT_INTERP));
        CHECK_THAT(reason(b.build()), Equals("not a static executable: it has an interpreter (PT_INTERP)"));
        ElfBuilder d;
        d.segments.push_back(plain_segment(PT_DYNAMIC));
        CHECK_THAT(reason(d.build()), Equals("not a static executable: it has a dynamic section (PT_DYNAMIC)"));
    }
    SECTION("no PT_LOAD segments") {
        ElfBuilder b;
        b.segments.erase(b.segments.begin(), b.segments.begin() + 3);
        CHECK_THAT(reason(b.build()), Equals("no loadable (PT_LOAD) segments"));
        Bytes image = valid;
        patch_ehdr(image, [](Elf64_Ehdr& e) { e.e_phnum = 0; });
        CHECK_THAT(reason(image), Equals("no ukrun ABI note: not built with the ukrun bindings"));
        ElfBuilder empty_loads;
        for (size_t i = 0; i < 3; ++i)
            empty_loads.segments[i] = load(PF_R, 0x100000, {}, 0);
        CHECK_THAT(reason(empty_loads.build()), Equals("no loadable (PT_LOAD) segments"));
    }
    SECTION("file size larger than memory size") {
        Bytes image = valid;
        patch_phdr(image, 1, [](Elf64_Phdr& p) { p.p_memsz = 0x10; });
        CHECK_THAT(reason(image), Equals("segment 1: file size 0x20 is larger than memory size 0x10"));
    }
    SECTION("file offset + size overflows") {
        Bytes image = valid;
        patch_phdr(image, 1, [](Elf64_Phdr& p) { p.p_offset = std::numeric_limits<uint64_t>::max() - 4; });
        CHECK_THAT(reason(image), Equals("segment 1: file offset 0xfffffffffffffffb + size 0x20 overflows"));
    }
    SECTION("address + size overflows") {
        Bytes image = valid;
        patch_phdr(image, 2, [](Elf64_Phdr& p) { p.p_vaddr = 0xfffffffffffff000; });
        CHECK_THAT(reason(image), Equals("segment 2: address 0xfffffffffffff000 + size 0x3000 overflows"));
        // No overflow in the sum, but in rounding it up to a page.
        patch_phdr(image, 2, [](Elf64_Phdr& p) { p.p_memsz = 0xf00; });
        CHECK_THAT(reason(image), Equals("segment 2: address 0xfffffffffffff000 + size 0xf00 overflows"));
    }
    SECTION("address not page aligned") {
        Bytes image = valid;
        patch_phdr(image, 1, [](Elf64_Phdr& p) { p.p_vaddr = 0x101800; });
        CHECK_THAT(reason(image), Equals("segment 1: address 0x101800 is not page aligned"));
    }
    SECTION("file offset not congruent to the address") {
        Bytes image = valid;
        patch_phdr(image, 1, [](Elf64_Phdr& p) { p.p_offset = 0x1ff0; });
        CHECK_THAT(reason(image),
                   Equals("segment 1: file offset 0x1ff0 is not congruent to address 0x101000 modulo the page size"));
    }
    SECTION("below the lowest load address") {
        Bytes image = valid;
        patch_phdr(image, 0, [](Elf64_Phdr& p) { p.p_vaddr = 0xff000; });
        CHECK_THAT(reason(image), Equals("segment 0 at 0xff000 is below the lowest load address 0x100000"));
    }
    SECTION("beyond guest memory") {
        CHECK_THAT(reason(valid, 0x104fff),
                   Equals("segment 2 (0x102000-0x105000, page aligned) does not fit in guest memory (0x104fff bytes)"));
        CHECK_THAT(reason(valid, 0), Contains("segment 0 (0x100000-0x101000, page aligned) does not fit"));
    }
    SECTION("writable and executable") {
        Bytes image = valid;
        patch_phdr(image, 2, [](Elf64_Phdr& p) { p.p_flags = PF_R | PF_W | PF_X; });
        CHECK_THAT(reason(image), Equals("segment 2 is both writable and executable"));
    }
    SECTION("no permissions") {
        Bytes image = valid;
        patch_phdr(image, 1, [](Elf64_Phdr& p) { p.p_flags = 0; });
        CHECK_THAT(reason(image), Equals("segment 1 has no permissions (none of read, write, execute)"));
    }
    SECTION("unsorted") {
        ElfBuilder b;
        std::swap(b.segments[0], b.segments[1]);
        CHECK_THAT(reason(b.build()), Equals("segments 0 and 1 are not sorted by address (0x100000 after 0x101000)"));
    }
    SECTION("overlapping, compared by page") {
        Bytes image = valid;
        // Text ends 1 byte into rodata's page: disjoint bytes, shared page.
        patch_phdr(image, 0, [](Elf64_Phdr& p) { p.p_memsz = 0x1001; });
        CHECK_THAT(reason(image), Equals("segments 0 and 1 overlap: page 0x101000 belongs to both"));
        image = valid;
        patch_phdr(image, 1, [](Elf64_Phdr& p) { p.p_vaddr = 0x100000; });
        CHECK_THAT(reason(image), Equals("segments 0 and 1 overlap: page 0x100000 belongs to both"));
    }
    SECTION("entry point not in an executable segment") {
        ElfBuilder b;
        b.entry = 0x200000;
        CHECK_THAT(reason(b.build()), Equals("entry point 0x200000 is not inside an executable segment (it is in no "
                                             "segment)"));
        b.entry = 0x100080; // one past the end of text
        CHECK_THAT(reason(b.build()), Contains("entry point 0x100080 is not inside an executable segment"));
        b.entry = ElfBuilder::rodata + 4;
        CHECK_THAT(reason(b.build()), Equals("entry point 0x101004 is not inside an executable segment (its segment "
                                             "at 0x101000 is not executable)"));
    }
}

TEST_CASE("note rejections", "[elf]") {
    SECTION("missing ABI note") {
        CHECK_THAT(reason(image_with_notes(manifest_note(make_manifest({})))),
                   Equals("no ukrun ABI note: not built with the ukrun bindings"));
        ElfBuilder b;
        b.segments.erase(b.segments.begin() + static_cast<long>(b.note_index()));
        CHECK_THAT(reason(b.build()), Equals("no ukrun ABI note: not built with the ukrun bindings"));
    }
    SECTION("ABI version mismatch, reported before layout problems") {
        ElfBuilder b;
        b.set_notes(abi_note(7));
        b.segments[2].phdr.p_flags = PF_R | PF_W | PF_X;
        CHECK_THAT(reason(b.build()), Equals("built for ukrun ABI 7, this ukrun speaks ABI 1"));
    }
    SECTION("truncated note header") {
        Bytes notes = abi_note();
        notes.resize(notes.size() + 5);
        CHECK_THAT(reason(image_with_notes(notes)),
                   Equals("malformed note in segment 3 at offset 0x18: truncated note header"));
    }
    SECTION("name size beyond the segment") {
        Bytes notes = abi_note();
        const Bytes bad = make_note("ukrun", UKRUN_NOTE_ABI, Bytes(4, std::byte{0}), 4, 0x1000);
        notes.insert(notes.end(), bad.begin(), bad.end());
        CHECK_THAT(reason(image_with_notes(notes)),
                   Equals("malformed note in segment 3 at offset 0x18: name size 0x1000 extends beyond the segment"));
        CHECK_THAT(reason(image_with_notes(make_note("ukrun", 1, {}, 4, 0xffffffff))),
                   Equals("malformed note in segment 3 at offset 0x0: name size 0xffffffff extends beyond the segment"));
    }
    SECTION("descriptor size beyond the segment") {
        Bytes notes = abi_note();
        const uint32_t huge = 0xfffffff0;
        std::memcpy(notes.data() + 4, &huge, sizeof(huge));
        CHECK_THAT(reason(image_with_notes(notes)),
                   Equals("malformed note in segment 3 at offset 0x0: descriptor size 0xfffffff0 extends beyond the "
                          "segment"));
    }
    SECTION("wrong descriptor sizes") {
        CHECK_THAT(reason(image_with_notes(make_note(UKRUN_NOTE_NAME, UKRUN_NOTE_ABI, filled(8, 1)))),
                   Equals("malformed ukrun ABI note: descriptor is 8 bytes, expected 4"));
        Bytes notes = abi_note();
        const Bytes m = make_note(UKRUN_NOTE_NAME, UKRUN_NOTE_MANIFEST, filled(100, 0));
        notes.insert(notes.end(), m.begin(), m.end());
        CHECK_THAT(reason(image_with_notes(notes)),
                   Equals("malformed ukrun manifest note: descriptor is 100 bytes, expected 328"));
    }
    SECTION("duplicates") {
        Bytes notes = abi_note();
        const Bytes again = abi_note();
        notes.insert(notes.end(), again.begin(), again.end());
        CHECK_THAT(reason(image_with_notes(notes)), Equals("more than one ukrun ABI note"));
        Bytes two = with_manifest(make_manifest({}));
        const Bytes m = manifest_note(make_manifest({}));
        two.insert(two.end(), m.begin(), m.end());
        CHECK_THAT(reason(image_with_notes(two)), Equals("more than one ukrun manifest note"));
    }
    SECTION("unknown ukrun note type") {
        Bytes notes = abi_note();
        const Bytes odd = make_note(UKRUN_NOTE_NAME, 9, filled(4, 0));
        notes.insert(notes.end(), odd.begin(), odd.end());
        CHECK_THAT(reason(image_with_notes(notes)), Equals("unknown ukrun note type 9"));
    }
}

TEST_CASE("manifest rejections", "[elf]") {
    SECTION("reserved header field") {
        ukrun_note_manifest m = make_manifest({});
        m.reserved = 1;
        CHECK_THAT(reason(image_with_manifest(m)), Equals("malformed ukrun manifest note: reserved field is 0x1, must be 0"));
    }
    SECTION("too many devices") {
        ukrun_note_manifest m = make_manifest({});
        m.count = UKRUN_MAX_DEVICES + 1;
        CHECK_THAT(reason(image_with_manifest(m)), Equals("manifest declares 9 devices, at most 8 are supported"));
        m.count = 0xffffffff;
        CHECK_THAT(reason(image_with_manifest(m)), Contains("manifest declares 4294967295 devices"));
    }
    SECTION("name not NUL-terminated") {
        ukrun_note_manifest m = make_manifest({{std::string(32, 'a'), UKRUN_DEVICE_BLOCK}});
        CHECK_THAT(reason(image_with_manifest(m)), Equals("manifest device 0: name is not NUL-terminated within 32 bytes"));
    }
    SECTION("empty name") {
        CHECK_THAT(reason(image_with_manifest(make_manifest({{"disk0", UKRUN_DEVICE_BLOCK}, {"", UKRUN_DEVICE_NET}}))),
                   Equals("manifest device 1: name is empty"));
    }
    SECTION("bad characters") {
        CHECK_THAT(reason(image_with_manifest(make_manifest({{"Disk", UKRUN_DEVICE_BLOCK}}))),
                   Equals("manifest device 0: name contains invalid character 'D' (allowed: a-z 0-9 _ -)"));
        CHECK_THAT(reason(image_with_manifest(make_manifest({{"a\x01", UKRUN_DEVICE_BLOCK}}))),
                   Equals("manifest device 0: name contains invalid character \\x01 (allowed: a-z 0-9 _ -)"));
        CHECK_THAT(reason(image_with_manifest(make_manifest({{"a b", UKRUN_DEVICE_BLOCK}}))),
                   Contains("invalid character ' '"));
    }
    SECTION("unknown type") {
        CHECK_THAT(reason(image_with_manifest(make_manifest({{"disk0", 3}}))),
                   Equals("manifest device 0 (\"disk0\"): unknown device type 3"));
    }
    SECTION("nonzero reserved entry field") {
        ukrun_note_manifest m = make_manifest({{"disk0", UKRUN_DEVICE_BLOCK}, {"net-0", UKRUN_DEVICE_NET}});
        m.entries[1].reserved = 5;
        CHECK_THAT(reason(image_with_manifest(m)), Equals("manifest device 1 (\"net-0\"): reserved field is 0x5, must be 0"));
    }
    SECTION("duplicate names") {
        CHECK_THAT(reason(image_with_manifest(make_manifest({{"disk0", UKRUN_DEVICE_BLOCK}, {"net", UKRUN_DEVICE_NET},
                                                             {"disk0", UKRUN_DEVICE_NET}}))),
                   Equals("manifest device 2: duplicate name \"disk0\" (also device 0)"));
    }
}

TEST_CASE("find_symbol names the sized function or object containing an address", "[elf]") {
    ElfBuilder b;
    b.symbols.push_back({"outer", 0x103000, 0x100, STT_OBJECT});
    b.symbols.push_back({"inner", 0x103040, 0x10, STT_OBJECT});
    const Bytes image = b.build();
    const GuardedCopy copy(image);
    const auto at = [&](uint64_t addr) { return find_symbol(copy.bytes(), addr); };

    auto hit = at(ElfBuilder::entry_point);
    REQUIRE(hit);
    CHECK(hit->name == "_start");
    CHECK(hit->offset == 0);
    hit = at(ElfBuilder::entry_point + 0x1f);
    REQUIRE(hit);
    CHECK(hit->name == "_start");
    CHECK(hit->offset == 0x1f);
    hit = at(0x100035);
    REQUIRE(hit);
    CHECK(hit->name == "helper");
    CHECK(hit->offset == 5);
    hit = at(0x102008);
    REQUIRE(hit);
    CHECK(hit->name == "table");
    hit = at(0x103044);
    REQUIRE(hit);
    CHECK(hit->name == "inner"); // the smallest containing symbol
    CHECK(hit->offset == 4);
    hit = at(0x103050);
    REQUIRE(hit);
    CHECK(hit->name == "outer");
    CHECK(hit->offset == 0x50);

    CHECK_FALSE(at(0x100040)); // "label" has no size
    CHECK_FALSE(at(0x104000));
    {
        ElfBuilder hostile;
        hostile.symbols = {{"evil\x1b[2Jname", 0x104000, 8, STT_FUNC}};
        const auto named = find_symbol(hostile.build(), 0x104000);
        REQUIRE(named);
        CHECK(named->name == "evil?[2Jname");
    }
    CHECK_FALSE(at(0x102100)); // "note" is STT_NOTYPE
    CHECK_FALSE(at(ElfBuilder::entry_point - 1));
    CHECK_FALSE(at(0));
    CHECK_FALSE(at(std::numeric_limits<uint64_t>::max()));
}

TEST_CASE("find_symbol never throws on damaged or missing tables", "[elf]") {
    SECTION("stripped") {
        ElfBuilder b;
        b.with_sections = false;
        CHECK_FALSE(find_symbol(b.build(), ElfBuilder::entry_point));
    }
    SECTION("garbage") {
        CHECK_FALSE(find_symbol({}, 0));
        CHECK_FALSE(find_symbol(bytes_of("not an elf at all, but long enough to be an elf header, really........"), 0));
    }
    SECTION("symbol table beyond the end of the file") {
        Bytes image = ElfBuilder().build();
        Elf64_Ehdr e;
        std::memcpy(&e, image.data(), sizeof(e));
        Elf64_Shdr symtab;
        const size_t at = e.e_shoff + sizeof(Elf64_Shdr);
        std::memcpy(&symtab, image.data() + at, sizeof(symtab));
        symtab.sh_size = 0x100000;
        std::memcpy(image.data() + at, &symtab, sizeof(symtab));
        const GuardedCopy copy(image);
        CHECK_FALSE(find_symbol(copy.bytes(), ElfBuilder::entry_point));
        CHECK_FALSE(parse_elf(copy.bytes(), mem_size).has_symbols);
    }
    SECTION("string table link out of range, or names beyond the string table") {
        Bytes image = ElfBuilder().build();
        Elf64_Ehdr e;
        std::memcpy(&e, image.data(), sizeof(e));
        Elf64_Shdr sh;
        const size_t symtab_at = e.e_shoff + sizeof(Elf64_Shdr);
        std::memcpy(&sh, image.data() + symtab_at, sizeof(sh));
        const Bytes intact = image;
        sh.sh_link = 40;
        std::memcpy(image.data() + symtab_at, &sh, sizeof(sh));
        CHECK_FALSE(find_symbol(GuardedCopy(image).bytes(), ElfBuilder::entry_point));

        image = intact;
        const size_t strtab_at = e.e_shoff + 2 * sizeof(Elf64_Shdr);
        std::memcpy(&sh, image.data() + strtab_at, sizeof(sh));
        sh.sh_size = 3; // "\0_s": the name of _start is cut and unterminated
        std::memcpy(image.data() + strtab_at, &sh, sizeof(sh));
        CHECK_FALSE(find_symbol(GuardedCopy(image).bytes(), ElfBuilder::entry_point));
    }
}

TEST_CASE("no prefix or single-byte corruption of a valid image crashes", "[elf]") {
    const Bytes image = ElfBuilder().build();
    size_t accepted = 0;
    for (size_t length = 0; length <= image.size(); ++length) {
        const GuardedCopy copy(std::span<const std::byte>(image).first(length));
        try {
            parse_elf(copy.bytes(), mem_size);
            ++accepted;
        } catch (const ImageError&) {
        }
        (void)find_symbol(copy.bytes(), ElfBuilder::entry_point);
    }
    CHECK(accepted == 1); // only the whole image: the section header table is last

    for (size_t at = 0; at < image.size(); ++at) {
        for (const uint8_t flip : {uint8_t{0xff}, uint8_t{0x80}, uint8_t{0x01}}) {
            Bytes bad = image;
            bad[at] ^= std::byte{flip};
            const GuardedCopy copy(bad);
            try {
                parse_elf(copy.bytes(), mem_size);
            } catch (const ImageError&) {
            }
            (void)find_symbol(copy.bytes(), static_cast<uint64_t>(at) + 0x100000);
        }
    }
}
