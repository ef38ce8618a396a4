/* gf-pad.c: constant padding of H and W (see gf-pad.h).
 *
 * Each output plane is written front to back in one pass: the top rows,
 * then per input row its left margin, the row itself and its right
 * margin, then the bottom rows.  Every loop is a contiguous run.
 */
#include "gf-pad.h"

#include <stdint.h>
#include <string.h>

/* A pad above this is a negative number that went through size_t; no
 * real model pads by half the address space. */
#define PAD_MAX ((size_t) (PTRDIFF_MAX / 4))

static void
fill (gf_real *y, size_t n, gf_real value)
{
  for (size_t i = 0; i < n; i++)
    y[i] = value;
}

GfStatus
gf_pad2d_init (GfPad2d *pad, GfError *error)
{
  if (pad->in_h == 0 || pad->in_w == 0 || pad->channels == 0)
    return gf_error_set (error, GF_ERR_SHAPE, "pad input %zu×%zu×%zu is "
                         "empty", pad->channels, pad->in_h, pad->in_w);
  if (pad->top > PAD_MAX || pad->left > PAD_MAX || pad->bottom > PAD_MAX
      || pad->right > PAD_MAX)
    return gf_error_set (error, GF_ERR_INVALID,
                         "pads must be non-negative and of a sane size");
  if (gf_size_add (pad->in_h, pad->top + pad->bottom, &pad->out_h) != 0
      || gf_size_add (pad->in_w, pad->left + pad->right, &pad->out_w) != 0
      || pad->out_h > PAD_MAX || pad->out_w > PAD_MAX)
    return gf_error_set (error, GF_ERR_SHAPE, "padded size is too large");
  return GF_OK;
}

/* One plane: x (H, W) → y (OH, OW). */
static void
pad_plane (const GfPad2d *pad, gf_real value, const gf_real *x, gf_real *y)
{
  fill (y, pad->top * pad->out_w, value);
  y += pad->top * pad->out_w;
  for (size_t r = 0; r < pad->in_h; r++)
    {
      fill (y, pad->left, value);
      memcpy (y + pad->left, x, pad->in_w * sizeof *y);
      fill (y + pad->left + pad->in_w, pad->right, value);
      x += pad->in_w;
      y += pad->out_w;
    }
  fill (y, pad->bottom * pad->out_w, value);
}

void
gf_pad2d_forward (const GfPad2d *pad, const gf_real *x, gf_real *y)
{
  size_t planes = pad->batch * pad->channels;
  size_t in_plane = pad->in_h * pad->in_w;
  size_t out_plane = pad->out_h * pad->out_w;

  if (out_plane == in_plane)   /* no padding at all */
    {
      memcpy (y, x, planes * in_plane * sizeof *y);
      return;
    }
  for (size_t p = 0; p < planes; p++)
    pad_plane (pad, (gf_real) pad->value, x + p * in_plane,
               y + p * out_plane);
}

void
gf_pad2d_backward (const GfPad2d *pad, const gf_real *dy, gf_real *dx)
{
  size_t planes = pad->batch * pad->channels;
  size_t in_plane = pad->in_h * pad->in_w;
  size_t out_plane = pad->out_h * pad->out_w;
  size_t corner = pad->top * pad->out_w + pad->left;

  if (out_plane == in_plane)
    {
      memcpy (dx, dy, planes * in_plane * sizeof *dx);
      return;
    }
  for (size_t p = 0; p < planes; p++)
    {
      const gf_real *row = dy + p * out_plane + corner;
      gf_real *out = dx + p * in_plane;
      for (size_t r = 0; r < pad->in_h; r++)
        memcpy (out + r * pad->in_w, row + r * pad->out_w,
                pad->in_w * sizeof *out);
    }
}
