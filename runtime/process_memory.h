// This process's resident memory, now and at its peak (Linux /proc), for
// progress lines and the planned-versus-measured summary.
#pragma once

#include <cstdint>

namespace reforge::runtime {

int64_t resident_bytes();       // 0 where /proc is unavailable
int64_t peak_resident_bytes();  // VmHWM
// The machine's physical memory; INT64_MAX where it cannot be read.
int64_t physical_memory_bytes();

}  // namespace reforge::runtime
