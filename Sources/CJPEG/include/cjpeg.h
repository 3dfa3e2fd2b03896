#ifndef CJPEG_H
#define CJPEG_H
#include <stddef.h>
/// Decodes a JPEG file to 8-bit pixels (height x width x channels, channels 1 or 3).
/// Returns 0 on success; on failure returns -1 and writes a message to `err`.
/// The caller frees `*pixels` with cjpeg_free.
int cjpeg_decode(const char *path, unsigned char **pixels, int *width, int *height, int *channels,
                 char *err, size_t errlen);
void cjpeg_free(unsigned char *pixels);
/// Encodes 8-bit pixels as a JPEG file (quality 1-100); 0 on success.
int cjpeg_encode(const char *path, const unsigned char *pixels, int width, int height, int channels,
                 int quality, char *err, size_t errlen);
#endif
