// The machine a library call runs on. The runtime's library functions
// (runtime/library_calls.h) have one meaning but a kernel per machine, and
// a kernel's scratch is its own: the memory planner sizes a call's
// workspace for the device its target runs the library on.
#pragma once

namespace reforge {

enum class LibraryDevice { cpu, cuda };

inline const char* library_device_name(LibraryDevice d) { return d == LibraryDevice::cpu ? "cpu" : "cuda"; }

}  // namespace reforge
