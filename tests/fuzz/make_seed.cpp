// Writes the ELF builder's valid images as a fuzzing seed corpus into the directory given.
#include <cstdio>
#include <fstream>
#include <string>

#include "elf_builder.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    using namespace ukrun::test;
    ElfBuilder full;
    ElfBuilder stripped;
    stripped.with_sections = false;
    const std::pair<const char*, Bytes> seeds[] = {{"full.elf", full.build()}, {"stripped.elf", stripped.build()}};
    for (const auto& [name, image] : seeds) {
        std::ofstream out(std::string(argv[1]) + "/" + name, std::ios::binary);
        out.write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
        if (!out)
            return 1;
    }
    return 0;
}
