/* graft-block-strip.c: a backbone's blocks, drawn with Cairo.
 *
 * One rounded box per block, in a fixed-height row, so the strip's height
 * is a sum the measure function can give without Pango; text that does not
 * fit the width is ellipsized.  Frozen boxes are a muted blue-grey over the
 * foreground colour, trainable ones the accent colour, so both read in the
 * light and dark styles.
 */
#define G_LOG_DOMAIN "graft-block-strip"

#include <glib/gi18n.h>
#include <math.h>

#include "graft-block-strip.h"

/* Sizes, in logical pixels. */
#define MIN_WIDTH 220
#define NATURAL_WIDTH 300
#define PAD 12
#define BOX_HEIGHT 50
#define BOX_GAP 14              /* between boxes, for the arrow */
#define BOX_RADIUS 8
#define BOX_PAD_X 12
#define BOX_PAD_Y 7
#define CAPTION_HEIGHT 26       /* "Input" above the first box */
#define CUT_HEIGHT 44           /* the bottleneck line and its label */
#define CUT_GAP 10              /* between the last box and the cut line */
#define ARROW_HEAD 4
#define LOCK_WIDTH 8            /* the padlock glyph */
#define LOCK_HEIGHT 6
#define LOCK_SHACKLE 3          /* the shackle's radius */
#define LOCK_GAP 5              /* between the padlock and its word */
#define STATE_GAP 10            /* between the name and the state */
#define CUT_DASH 5.0
#define SMALL_TEXT_SCALE 0.85

#define FROZEN_ALPHA 0.22       /* of the blue-grey fill */
#define BORDER_ALPHA 0.18
#define ARROW_ALPHA 0.45
#define DIM_TEXT_ALPHA 0.65
#define ACCENT_DIM_ALPHA 0.85

static const GdkRGBA frozen_tint = { 0.42, 0.50, 0.62, 1 };
static const GdkRGBA fallback_accent = { 0.208, 0.518, 0.894, 1 };  /* #3584e4 */
static const GdkRGBA fallback_accent_fg = { 1, 1, 1, 1 };

typedef struct
{
  char *name;
  char *kind;
  guint64 n_params;
  guint channels, height, width;
} Block;

typedef struct
{
  GdkRGBA fg, accent, accent_fg;
} Colors;

struct _GraftBlockStrip
{
  GtkWidget parent_instance;

  GArray *blocks;               /* Block */
  guint cut_channels, cut_height, cut_width;
  guint trainable_from;         /* ≥ blocks->len: all frozen */
};

G_DEFINE_FINAL_TYPE (GraftBlockStrip, graft_block_strip, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_TRAINABLE_FROM,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
block_clear (gpointer data)
{
  Block *block = data;

  g_free (block->name);
  g_free (block->kind);
}

static guint
n_trainable (GraftBlockStrip *self)
{
  return self->trainable_from < self->blocks->len
         ? self->blocks->len - self->trainable_from : 0;
}

static void
update_accessible (GraftBlockStrip *self)
{
  guint n = self->blocks->len, trainable = n_trainable (self);
  g_autofree char *blocks = g_strdup_printf (ngettext ("%u block", "%u blocks",
                                                       n), n);
  g_autofree char *description = NULL;

  if (trainable == 0)
    description = g_strdup_printf (_("%s, all frozen"), blocks);
  else if (trainable == n)
    description = g_strdup_printf (_("%s, all trainable"), blocks);
  else
    description = g_strdup_printf (ngettext ("%s, last %u trainable",
                                             "%s, last %u trainable",
                                             trainable), blocks, trainable);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  description, -1);
}

/* Text */

static char *
format_params (guint64 n)
{
  const double thousand = 1e3, million = 1e6;

  if (n >= million)
    return g_strdup_printf (_("%.1fM params"), n / million);
  if (n >= thousand)
    return g_strdup_printf (_("%.1fk params"), n / thousand);
  return g_strdup_printf (ngettext ("%u param", "%u params", (gulong) n),
                          (guint) n);
}

static PangoLayout *
create_text (GraftBlockStrip *self,
             const char      *text,
             gboolean         bold,
             gboolean         small,
             double           width)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), text);
  PangoAttrList *attrs = pango_attr_list_new ();

  if (bold)
    pango_attr_list_insert (attrs, pango_attr_weight_new (PANGO_WEIGHT_BOLD));
  if (small)
    pango_attr_list_insert (attrs, pango_attr_scale_new (SMALL_TEXT_SCALE));
  pango_layout_set_attributes (layout, attrs);
  pango_attr_list_unref (attrs);
  pango_layout_set_width (layout, MAX (1, width) * PANGO_SCALE);
  pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
  return layout;
}

static void
set_source (cairo_t       *cr,
            const GdkRGBA *color,
            double         alpha)
{
  cairo_set_source_rgba (cr, color->red, color->green, color->blue,
                         color->alpha * alpha);
}

static void
show_text (cairo_t       *cr,
           PangoLayout   *layout,
           double         x,
           double         y,
           const GdkRGBA *color,
           double         alpha)
{
  set_source (cr, color, alpha);
  cairo_move_to (cr, x, y);
  pango_cairo_show_layout (cr, layout);
}

/* Drawing */

static void
get_colors (GraftBlockStrip *self,
            Colors          *colors)
{
  GtkStyleContext *context = gtk_widget_get_style_context (GTK_WIDGET (self));

  gtk_style_context_get_color (context, &colors->fg);
  /* Named colours of libadwaita's and GTK's Adwaita stylesheets. */
  if (!gtk_style_context_lookup_color (context, "accent_bg_color",
                                       &colors->accent))
    colors->accent = fallback_accent;
  if (!gtk_style_context_lookup_color (context, "accent_fg_color",
                                       &colors->accent_fg))
    colors->accent_fg = fallback_accent_fg;
}

static void
rounded_box (cairo_t *cr,
             double   x,
             double   y,
             double   width,
             double   height,
             double   radius)
{
  cairo_new_sub_path (cr);
  cairo_arc (cr, x + width - radius, y + radius, radius, -G_PI / 2, 0);
  cairo_arc (cr, x + width - radius, y + height - radius, radius, 0, G_PI / 2);
  cairo_arc (cr, x + radius, y + height - radius, radius, G_PI / 2, G_PI);
  cairo_arc (cr, x + radius, y + radius, radius, G_PI, 3 * G_PI / 2);
  cairo_close_path (cr);
}

/* A padlock whose body's top left is (x, y).  An open one has its
 * shackle lifted, free of the body on the left. */
static void
draw_lock (cairo_t       *cr,
           double         x,
           double         y,
           gboolean       open,
           const GdkRGBA *color,
           double         alpha)
{
  double centre = x + LOCK_WIDTH / 2.0;
  double top = y - LOCK_SHACKLE - (open ? LOCK_SHACKLE : 0);

  set_source (cr, color, alpha);
  cairo_rectangle (cr, x, y, LOCK_WIDTH, LOCK_HEIGHT);
  cairo_fill (cr);
  cairo_set_line_width (cr, 1.5);
  cairo_move_to (cr, centre - LOCK_SHACKLE, open ? top + LOCK_SHACKLE : y);
  cairo_line_to (cr, centre - LOCK_SHACKLE, top);
  cairo_arc (cr, centre, top, LOCK_SHACKLE, G_PI, 2 * G_PI);
  cairo_line_to (cr, centre + LOCK_SHACKLE, y);
  cairo_stroke (cr);
}

/* The state at the box's right edge; returns where it begins. */
static double
draw_state (GraftBlockStrip *self,
            cairo_t         *cr,
            double           right,
            double           y,
            gboolean         trainable,
            const GdkRGBA   *color)
{
  g_autoptr (PangoLayout) layout =
    create_text (self, trainable ? _("Trainable") : _("Frozen"), FALSE, TRUE,
                 NATURAL_WIDTH);
  int w, h;
  double x;

  pango_layout_set_width (layout, -1);
  pango_layout_get_pixel_size (layout, &w, &h);
  x = right - w;
  show_text (cr, layout, x, y, color, ACCENT_DIM_ALPHA);
  x -= LOCK_GAP + LOCK_WIDTH;
  draw_lock (cr, x, y + h - LOCK_HEIGHT - 2, trainable, color,
             ACCENT_DIM_ALPHA);
  return x;
}

static void
draw_box (cairo_t      *cr,
          double        y,
          double        width,
          gboolean      trainable,
          const Colors *colors)
{
  rounded_box (cr, PAD + 0.5, y + 0.5, width - 2 * PAD - 1, BOX_HEIGHT - 1,
               BOX_RADIUS);
  if (trainable)
    set_source (cr, &colors->accent, 1);
  else
    set_source (cr, &frozen_tint, FROZEN_ALPHA);
  cairo_fill_preserve (cr);
  cairo_set_line_width (cr, 1);
  set_source (cr, trainable ? &colors->accent : &colors->fg, BORDER_ALPHA);
  cairo_stroke (cr);
}

/* The second line: kind and parameters on the left, ellipsized before the
 * output shape on the right is. */
static void
draw_details (GraftBlockStrip *self,
              cairo_t         *cr,
              const Block     *block,
              double           y,
              double           width,
              const GdkRGBA   *color)
{
  double left = PAD + BOX_PAD_X, right = width - PAD - BOX_PAD_X;
  g_autofree char *params = format_params (block->n_params);
  /* Translators: a block's kind and its number of parameters. */
  g_autofree char *kind = g_strdup_printf (_("%s · %s"), block->kind, params);
  g_autofree char *shape = g_strdup_printf ("%u×%u×%u", block->channels,
                                            block->height, block->width);
  g_autoptr (PangoLayout) shape_text = create_text (self, shape, FALSE, TRUE,
                                                    right - left);
  g_autoptr (PangoLayout) kind_text = NULL;
  int shape_width, h;

  pango_layout_set_width (shape_text, -1);
  pango_layout_get_pixel_size (shape_text, &shape_width, &h);
  y -= h;
  show_text (cr, shape_text, right - shape_width, y, color, DIM_TEXT_ALPHA);
  kind_text = create_text (self, kind, FALSE, TRUE,
                           right - shape_width - STATE_GAP - left);
  show_text (cr, kind_text, left, y, color, DIM_TEXT_ALPHA);
}

static void
draw_block (GraftBlockStrip *self,
            cairo_t         *cr,
            const Block     *block,
            gboolean         trainable,
            double           y,
            double           width,
            const Colors    *colors)
{
  const GdkRGBA *text = trainable ? &colors->accent_fg : &colors->fg;
  g_autoptr (PangoLayout) name = NULL;
  double state_x;

  draw_box (cr, y, width, trainable, colors);
  state_x = draw_state (self, cr, width - PAD - BOX_PAD_X, y + BOX_PAD_Y,
                        trainable, text);
  name = create_text (self, block->name, TRUE, FALSE,
                      state_x - STATE_GAP - PAD - BOX_PAD_X);
  show_text (cr, name, PAD + BOX_PAD_X, y + BOX_PAD_Y, text, 1);
  draw_details (self, cr, block, y + BOX_HEIGHT - BOX_PAD_Y, width, text);
}

static void
draw_arrow (cairo_t       *cr,
            double         x,
            double         top,
            double         bottom,
            const GdkRGBA *color)
{
  cairo_set_line_width (cr, 1);
  cairo_move_to (cr, x, top);
  cairo_line_to (cr, x, bottom - 1);
  set_source (cr, color, ARROW_ALPHA);
  cairo_stroke (cr);
  cairo_move_to (cr, x - ARROW_HEAD, bottom - ARROW_HEAD);
  cairo_line_to (cr, x, bottom);
  cairo_line_to (cr, x + ARROW_HEAD, bottom - ARROW_HEAD);
  cairo_close_path (cr);
  cairo_fill (cr);
}

/* A dashed line across under the last block, labelled with the cut. */
static void
draw_cut (GraftBlockStrip *self,
          cairo_t         *cr,
          double           y,
          double           width,
          const Colors    *colors)
{
  const double dash[] = { CUT_DASH, CUT_DASH };
  /* Translators: the bottleneck's shape C×H×W. */
  g_autofree char *text = g_strdup_printf (_("Bottleneck %u×%u×%u → new head"),
                                           self->cut_channels,
                                           self->cut_height, self->cut_width);
  g_autoptr (PangoLayout) layout = create_text (self, text, TRUE, TRUE,
                                                width - 2 * PAD);

  cairo_set_line_width (cr, 2);
  cairo_set_dash (cr, dash, G_N_ELEMENTS (dash), 0);
  cairo_move_to (cr, PAD, y);
  cairo_line_to (cr, width - PAD, y);
  set_source (cr, &colors->accent, 1);
  cairo_stroke (cr);
  cairo_set_dash (cr, NULL, 0, 0);

  pango_layout_set_alignment (layout, PANGO_ALIGN_CENTER);
  show_text (cr, layout, PAD, y + CUT_GAP / 2.0, &colors->fg, 1);
}

static void
graft_block_strip_snapshot (GtkWidget   *widget,
                            GtkSnapshot *snapshot)
{
  GraftBlockStrip *self = GRAFT_BLOCK_STRIP (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  g_autoptr (PangoLayout) caption = NULL;
  double y = PAD, centre = width / 2.0, arrow_top;
  int caption_height;
  Colors colors;
  cairo_t *cr;

  if (width <= 0 || height <= 0 || self->blocks->len == 0)
    return;
  get_colors (self, &colors);
  cr = gtk_snapshot_append_cairo (snapshot,
                                  &GRAPHENE_RECT_INIT (0, 0, width, height));

  caption = create_text (self, _("Input"), FALSE, TRUE, width - 2 * PAD);
  pango_layout_set_alignment (caption, PANGO_ALIGN_CENTER);
  pango_layout_get_pixel_size (caption, NULL, &caption_height);
  show_text (cr, caption, PAD, y, &colors.fg, DIM_TEXT_ALPHA);
  arrow_top = y + caption_height;
  y += CAPTION_HEIGHT;
  for (guint i = 0; i < self->blocks->len; i++)
    {
      draw_arrow (cr, centre, arrow_top, y, &colors.fg);
      arrow_top = y + BOX_HEIGHT + ARROW_HEAD;
      draw_block (self, cr, &g_array_index (self->blocks, Block, i),
                  i >= self->trainable_from, y, width, &colors);
      y += BOX_HEIGHT + BOX_GAP;
    }
  draw_cut (self, cr, y - BOX_GAP + CUT_GAP, width, &colors);
  cairo_destroy (cr);
}

/* GtkWidget */

static void
graft_block_strip_measure (GtkWidget      *widget,
                           GtkOrientation  orientation,
                           int             for_size,
                           int            *minimum,
                           int            *natural,
                           int            *minimum_baseline,
                           int            *natural_baseline)
{
  GraftBlockStrip *self = GRAFT_BLOCK_STRIP (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = MIN_WIDTH;
      *natural = NATURAL_WIDTH;
      return;
    }
  /* As tall as its blocks, at least: a scrolled window then scrolls. */
  *minimum = *natural = self->blocks->len == 0 ? 0
    : 2 * PAD + CAPTION_HEIGHT + self->blocks->len * (BOX_HEIGHT + BOX_GAP)
      - BOX_GAP + CUT_GAP + CUT_HEIGHT;
}

/* GObject */

static void
graft_block_strip_finalize (GObject *object)
{
  GraftBlockStrip *self = GRAFT_BLOCK_STRIP (object);

  g_array_unref (self->blocks);
  G_OBJECT_CLASS (graft_block_strip_parent_class)->finalize (object);
}

static void
graft_block_strip_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  GraftBlockStrip *self = GRAFT_BLOCK_STRIP (object);

  switch (prop_id)
    {
    case PROP_TRAINABLE_FROM:
      g_value_set_uint (value, self->trainable_from);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_block_strip_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  GraftBlockStrip *self = GRAFT_BLOCK_STRIP (object);

  switch (prop_id)
    {
    case PROP_TRAINABLE_FROM:
      graft_block_strip_set_trainable_from (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_block_strip_class_init (GraftBlockStripClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = graft_block_strip_finalize;
  object_class->get_property = graft_block_strip_get_property;
  object_class->set_property = graft_block_strip_set_property;
  widget_class->snapshot = graft_block_strip_snapshot;
  widget_class->measure = graft_block_strip_measure;

  /* The first trainable block; the number of blocks or more: none. */
  properties[PROP_TRAINABLE_FROM] =
    g_param_spec_uint ("trainable-from", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                       | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "graftblockstrip");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
graft_block_strip_init (GraftBlockStrip *self)
{
  self->blocks = g_array_new (FALSE, FALSE, sizeof (Block));
  g_array_set_clear_func (self->blocks, block_clear);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Backbone blocks"), -1);
  update_accessible (self);
}

/* Public API */

GtkWidget *
graft_block_strip_new (void)
{
  return g_object_new (GRAFT_TYPE_BLOCK_STRIP, NULL);
}

void
graft_block_strip_set_blocks (GraftBlockStrip      *self,
                              const GraftBlockInfo *blocks,
                              guint                 n,
                              guint                 cut_channels,
                              guint                 cut_height,
                              guint                 cut_width)
{
  g_return_if_fail (GRAFT_IS_BLOCK_STRIP (self));
  g_return_if_fail (n == 0 || blocks != NULL);

  g_array_set_size (self->blocks, 0);
  for (guint i = 0; i < n; i++)
    {
      Block block = {
        g_strdup (blocks[i].name != NULL ? blocks[i].name : ""),
        g_strdup (blocks[i].kind != NULL ? blocks[i].kind : ""),
        blocks[i].n_params,
        blocks[i].channels, blocks[i].height, blocks[i].width,
      };

      g_array_append_val (self->blocks, block);
    }
  self->cut_channels = cut_channels;
  self->cut_height = cut_height;
  self->cut_width = cut_width;
  graft_block_strip_set_trainable_from (self, n);
  update_accessible (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

void
graft_block_strip_set_trainable_from (GraftBlockStrip *self,
                                      guint            first_trainable)
{
  g_return_if_fail (GRAFT_IS_BLOCK_STRIP (self));

  if (first_trainable == self->trainable_from)
    return;
  self->trainable_from = first_trainable;
  update_accessible (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TRAINABLE_FROM]);
}

guint
graft_block_strip_get_trainable_from (GraftBlockStrip *self)
{
  g_return_val_if_fail (GRAFT_IS_BLOCK_STRIP (self), 0);
  return self->trainable_from;
}

guint
graft_block_strip_get_n_blocks (GraftBlockStrip *self)
{
  g_return_val_if_fail (GRAFT_IS_BLOCK_STRIP (self), 0);
  return self->blocks->len;
}

gboolean
graft_block_strip_is_trainable (GraftBlockStrip *self,
                                guint            index)
{
  g_return_val_if_fail (GRAFT_IS_BLOCK_STRIP (self), FALSE);
  g_return_val_if_fail (index < self->blocks->len, FALSE);
  return index >= self->trainable_from;
}
