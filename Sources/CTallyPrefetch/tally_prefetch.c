// `tally_prefetch` is a static inline function in include/tally_prefetch.h. This file only exists so that SwiftPM
// builds the module: a C target without a source file builds nothing.
#include "tally_prefetch.h"
