// Catch2 entry point of the network stack tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
