#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H
#include <hdf5.h>
// HDF5's constants are macros that expand to function calls (H5open()),
// which Swift cannot import: wrap them.
static inline unsigned chdf5_acc_trunc(void)    { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_acc_rdonly(void)   { return H5F_ACC_RDONLY; }
static inline hid_t    chdf5_p_default(void)    { return H5P_DEFAULT; }
static inline hid_t    chdf5_s_all(void)        { return H5S_ALL; }
static inline hid_t    chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t    chdf5_native_double(void){ return H5T_NATIVE_DOUBLE; }
static inline hid_t    chdf5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t    chdf5_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t    chdf5_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t    chdf5_c_s1(void)         { return H5T_C_S1; }
static inline size_t   chdf5_variable(void)     { return H5T_VARIABLE; }
static inline hid_t    chdf5_p_link_create(void){ return H5P_LINK_CREATE; }
static inline hid_t    chdf5_p_dataset_create(void){ return H5P_DATASET_CREATE; }
static inline hid_t    chdf5_p_group_create(void){ return H5P_GROUP_CREATE; }
static inline hid_t    chdf5_p_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t    chdf5_p_file_access(void) { return H5P_FILE_ACCESS; }
// The 1.8+ file format: superblock v2, object headers v2 and their B-trees carry checksums, so
// corrupt metadata is an error on open or read instead of undefined behaviour in the library.
static inline herr_t   chdf5_use_checksummed_format(hid_t fapl) { return H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST); }
// Silence HDF5's automatic error stack printing; callers report errors themselves.
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
#endif
