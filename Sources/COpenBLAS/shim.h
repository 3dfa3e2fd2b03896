#ifndef COPENBLAS_SHIM_H
#define COPENBLAS_SHIM_H
// Resolves to openblas-pthread/cblas.h through pkg-config (never the
// alternatives-selected /usr/include/x86_64-linux-gnu/cblas.h).
#include <cblas.h>
#endif
