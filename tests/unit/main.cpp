// Catch2 entry point shared by every unit test.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
