# Package config for an installed ukrun: provides ukrun::bindings and add_unikernel().
include("${CMAKE_CURRENT_LIST_DIR}/ukrunTargets.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/ukrun_unikernel.cmake")
