// libjpeg reports errors through a longjmp out of its error_exit hook, which
// Swift cannot catch; this file keeps setjmp/longjmp on the C side.
#include "cjpeg.h"
#include <stdio.h>  // jpeglib.h needs FILE first
#include <jpeglib.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

struct err_mgr { struct jpeg_error_mgr pub; jmp_buf jump; char *msg; size_t len; };

static void on_error(j_common_ptr cinfo) {
  struct err_mgr *e = (struct err_mgr *)cinfo->err;
  char buf[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, buf);
  snprintf(e->msg, e->len, "%s", buf);
  longjmp(e->jump, 1);
}

static void quiet(j_common_ptr cinfo) { (void)cinfo; }

int cjpeg_decode(const char *path, unsigned char **pixels, int *width, int *height, int *channels,
                 char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) { snprintf(err, errlen, "cannot open"); return -1; }
  struct jpeg_decompress_struct cinfo;
  struct err_mgr jerr;
  unsigned char *volatile out = NULL;
  cinfo.err = jpeg_std_error(&jerr.pub);
  jerr.pub.error_exit = on_error;
  jerr.pub.output_message = quiet;
  jerr.msg = err; jerr.len = errlen;
  if (setjmp(jerr.jump)) {
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    free(out);
    return -1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  int w = cinfo.output_width, h = cinfo.output_height, c = cinfo.output_components;
  out = malloc((size_t)w * h * c);
  while (cinfo.output_scanline < cinfo.output_height) {
    unsigned char *row = out + (size_t)cinfo.output_scanline * w * c;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  fclose(f);
  *pixels = out; *width = w; *height = h; *channels = c;
  return 0;
}

void cjpeg_free(unsigned char *pixels) { free(pixels); }

int cjpeg_encode(const char *path, const unsigned char *pixels, int width, int height, int channels,
                 int quality, char *err, size_t errlen) {
  FILE *f = fopen(path, "wb");
  if (!f) { snprintf(err, errlen, "cannot create"); return -1; }
  struct jpeg_compress_struct cinfo;
  struct err_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr.pub);
  jerr.pub.error_exit = on_error;
  jerr.msg = err; jerr.len = errlen;
  if (setjmp(jerr.jump)) { jpeg_destroy_compress(&cinfo); fclose(f); return -1; }
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = width; cinfo.image_height = height; cinfo.input_components = channels;
  cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * width * channels);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  fclose(f);
  return 0;
}
