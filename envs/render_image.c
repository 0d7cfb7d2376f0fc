/* Image frames of the environments, drawn with cairo (antialiasing off, so
 * every pixel is one of PALETTE's colours) and written as PNG by cairo or as
 * an animated GIF by giflib. */
#include <cairo/cairo.h>
#include <errno.h>
#include <fcntl.h>
#include <gif_lib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envs/render.h"
#include "src/check.h"

#define CELL 24
#define SPREAD_SIDE 480

enum { C_BACK, C_GRID, C_HIGHWAY, C_SHELF, C_REQUESTED, C_GOAL, C_FOOD, C_LANDMARK, C_AGENT0, N_COLOURS = 16 };
static const uint32_t PALETTE[N_COLOURS] = {
    0xffffff, 0xd0d0d0, 0xf2f2e6, 0x483d8b, 0x008080, 0x3c3c3c, 0x2e8b57, 0x222222,
    0xff8c00, 0xd62728, 0x1f77b4, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22,
};

struct mz_env_canvas {
    mz_env_params p;
    int width, height;
    cairo_surface_t *surface;
    cairo_t *cr;
    GifFileType *gif;
    GifByteType *line;
};

static void set_colour(cairo_t *cr, int index) {
    uint32_t c = PALETTE[index];
    cairo_set_source_rgb(cr, ((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0, (c & 255) / 255.0);
}

static void fill_rect(cairo_t *cr, int colour, double x, double y, double w, double h) {
    set_colour(cr, colour);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill(cr);
}

static void fill_circle(cairo_t *cr, int colour, double x, double y, double r) {
    set_colour(cr, colour);
    cairo_arc(cr, x, y, r, 0, 6.283185307179586);
    cairo_fill(cr);
}

mz_env_canvas *mz_env_canvas_create(const mz_env_params *p, char *err, size_t err_len) {
    int w, h;
    switch (p->kind) {
    case MZ_ENV_LBF: w = h = p->p.lbf.grid_size * CELL; break;
    case MZ_ENV_RWARE: w = p->p.rware.W * CELL, h = p->p.rware.H * CELL; break;
    case MZ_ENV_SPREAD: w = h = SPREAD_SIDE; break;
    case MZ_ENV_CHAIN: w = p->p.chain.length * CELL, h = p->p.chain.n_agents * CELL; break;
    default: w = h = 3 * CELL; break;
    }
    if (w > 8192 || h > 8192) {
        snprintf(err, err_len, "render: a %dx%d image is too large", w, h);
        return NULL;
    }
    mz_env_canvas *c = (mz_env_canvas *)mz_calloc(1, sizeof *c);
    c->p = *p;
    c->width = w;
    c->height = h;
    c->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    MZ_CHECK(cairo_surface_status(c->surface) == CAIRO_STATUS_SUCCESS, "cairo: %s",
             cairo_status_to_string(cairo_surface_status(c->surface)));
    c->cr = cairo_create(c->surface);
    MZ_CHECK(cairo_status(c->cr) == CAIRO_STATUS_SUCCESS, "cairo: %s", cairo_status_to_string(cairo_status(c->cr)));
    cairo_set_antialias(c->cr, CAIRO_ANTIALIAS_NONE);
    c->line = (GifByteType *)mz_malloc((size_t)w);
    return c;
}

int mz_env_canvas_width(const mz_env_canvas *c) { return c->width; }
int mz_env_canvas_height(const mz_env_canvas *c) { return c->height; }

static void draw_grid_lines(cairo_t *cr, int rows, int cols) {
    set_colour(cr, C_GRID);
    cairo_set_line_width(cr, 1);
    for (int r = 0; r <= rows; r++) cairo_move_to(cr, 0, r * CELL + 0.5), cairo_line_to(cr, cols * CELL, r * CELL + 0.5);
    for (int k = 0; k <= cols; k++) cairo_move_to(cr, k * CELL + 0.5, 0), cairo_line_to(cr, k * CELL + 0.5, rows * CELL);
    cairo_stroke(cr);
}

static void draw_lbf(cairo_t *cr, const lbf_params *p, const lbf_state *s) {
    draw_grid_lines(cr, p->grid_size, p->grid_size);
    for (int f = 0; f < p->n_food; f++) {
        if (s->food_eaten[f]) continue;
        double pad = CELL * (0.4 - 0.05 * (s->food_level[f] > 6 ? 6 : s->food_level[f]));
        fill_rect(cr, C_FOOD, s->food_pos[f][1] * CELL + pad, s->food_pos[f][0] * CELL + pad, CELL - 2 * pad, CELL - 2 * pad);
    }
    for (int a = 0; a < p->n_agents; a++)
        fill_circle(cr, C_AGENT0 + a % 8, (s->agent_pos[a][1] + 0.5) * CELL, (s->agent_pos[a][0] + 0.5) * CELL,
                    CELL * (0.2 + 0.1 * s->agent_level[a]));
}

static void draw_rware(cairo_t *cr, const rware_params *p, const rware_state *s) {
    for (int x = 0; x < p->H; x++)
        for (int y = 0; y < p->W; y++) {
            int goal = x == p->H - 1 && (y == p->W / 2 - 1 || y == p->W / 2);
            if (goal) fill_rect(cr, C_GOAL, y * CELL, x * CELL, CELL, CELL);
            else if (rware_is_highway(p, x, y)) fill_rect(cr, C_HIGHWAY, y * CELL, x * CELL, CELL, CELL);
            int shelf = s->shelf_grid[x][y];
            if (shelf) fill_rect(cr, s->requested[shelf - 1] ? C_REQUESTED : C_SHELF, y * CELL + 3, x * CELL + 3, CELL - 6, CELL - 6);
        }
    draw_grid_lines(cr, p->H, p->W);
    const int dx[4] = {-1, 0, 1, 0}, dy[4] = {0, 1, 0, -1};
    for (int a = 0; a < p->n_agents; a++) {
        double cx = (s->agent_pos[a][1] + 0.5) * CELL, cy = (s->agent_pos[a][0] + 0.5) * CELL;
        fill_circle(cr, C_AGENT0 + a % 8, cx, cy, CELL * (s->carrying[a] ? 0.28 : 0.38));
        fill_rect(cr, C_LANDMARK, cx + dy[s->agent_dir[a]] * CELL * 0.3 - 2, cy + dx[s->agent_dir[a]] * CELL * 0.3 - 2, 4, 4);
    }
}

static void draw_spread(cairo_t *cr, const spread_params *p, const spread_state *s) {
    double scale = SPREAD_SIDE / 3.0; /* [-1.5, 1.5] */
    for (int l = 0; l < p->n_agents; l++)
        fill_circle(cr, C_LANDMARK, (s->landmark_pos[l][0] + 1.5) * scale, (1.5 - s->landmark_pos[l][1]) * scale,
                    SPREAD_LANDMARK_RADIUS * scale);
    for (int a = 0; a < p->n_agents; a++)
        fill_circle(cr, C_AGENT0 + a % 8, (s->agent_pos[a][0] + 1.5) * scale, (1.5 - s->agent_pos[a][1]) * scale,
                    SPREAD_AGENT_RADIUS * scale);
}

void mz_env_canvas_draw(mz_env_canvas *c, const void *state) {
    fill_rect(c->cr, C_BACK, 0, 0, c->width, c->height);
    switch (c->p.kind) {
    case MZ_ENV_LBF: draw_lbf(c->cr, &c->p.p.lbf, (const lbf_state *)state); break;
    case MZ_ENV_RWARE: draw_rware(c->cr, &c->p.p.rware, (const rware_state *)state); break;
    case MZ_ENV_SPREAD: draw_spread(c->cr, &c->p.p.spread, (const spread_state *)state); break;
    case MZ_ENV_CHAIN: {
        const chain_state *s = (const chain_state *)state;
        int L = c->p.p.chain.length;
        for (int a = 0; a < c->p.p.chain.n_agents; a++) {
            fill_rect(c->cr, C_GOAL, (L - 1) * CELL, a * CELL, CELL, CELL);
            fill_circle(c->cr, C_AGENT0 + a % 8, (s->pos[a] + 0.5) * CELL, (a + 0.5) * CELL, CELL * 0.35);
        }
        draw_grid_lines(c->cr, c->p.p.chain.n_agents, L);
        break;
    }
    default: draw_grid_lines(c->cr, 3, 3); break;
    }
    cairo_surface_flush(c->surface);
}

int mz_env_canvas_write_png(mz_env_canvas *c, const char *path, char *err, size_t err_len) {
    cairo_status_t st = cairo_surface_write_to_png(c->surface, path);
    if (st == CAIRO_STATUS_SUCCESS) return 0;
    snprintf(err, err_len, "cannot write '%s': %s", path, cairo_status_to_string(st));
    return -1;
}

static int gif_fail(char *err, size_t len, const char *what, const char *path, int code) {
    snprintf(err, len, "%s '%s': %s", what, path, GifErrorString(code) ? GifErrorString(code) : "giflib error");
    return -1;
}

int mz_env_canvas_add_gif_frame(mz_env_canvas *c, const char *path, int delay_cs, char *err, size_t err_len) {
    int code = 0;
    if (!c->gif) {
        /* giflib's EGifOpenFileName creates 0600; a GIF is an ordinary shareable file */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            snprintf(err, err_len, "cannot create '%s': %s", path, strerror(errno));
            return -1;
        }
        c->gif = EGifOpenFileHandle(fd, &code); /* owns fd from here, closed by EGifCloseFile */
        if (!c->gif) {
            close(fd);
            return gif_fail(err, err_len, "cannot create", path, code);
        }
        GifColorType colours[N_COLOURS];
        for (int i = 0; i < N_COLOURS; i++) {
            colours[i].Red = (GifByteType)(PALETTE[i] >> 16);
            colours[i].Green = (GifByteType)(PALETTE[i] >> 8);
            colours[i].Blue = (GifByteType)PALETTE[i];
        }
        ColorMapObject *map = GifMakeMapObject(N_COLOURS, colours);
        MZ_CHECK(map, "giflib: out of memory");
        EGifSetGifVersion(c->gif, true);
        int rc = EGifPutScreenDesc(c->gif, c->width, c->height, 8, 0, map);
        GifFreeMapObject(map);
        static const GifByteType loop[3] = {1, 0, 0}; /* loop forever */
        if (rc == GIF_ERROR || EGifPutExtensionLeader(c->gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
            EGifPutExtensionBlock(c->gif, 11, "NETSCAPE2.0") == GIF_ERROR || EGifPutExtensionBlock(c->gif, 3, loop) == GIF_ERROR ||
            EGifPutExtensionTrailer(c->gif) == GIF_ERROR)
            return gif_fail(err, err_len, "cannot write", path, c->gif->Error);
    }
    GifByteType control[4] = {0, (GifByteType)(delay_cs & 255), (GifByteType)(delay_cs >> 8), 0};
    if (EGifPutExtension(c->gif, GRAPHICS_EXT_FUNC_CODE, 4, control) == GIF_ERROR ||
        EGifPutImageDesc(c->gif, 0, 0, c->width, c->height, false, NULL) == GIF_ERROR)
        return gif_fail(err, err_len, "cannot write", path, c->gif->Error);
    const unsigned char *pixels = cairo_image_surface_get_data(c->surface);
    int stride = cairo_image_surface_get_stride(c->surface);
    for (int y = 0; y < c->height; y++) {
        const uint32_t *row = (const uint32_t *)(pixels + (size_t)y * (size_t)stride);
        for (int x = 0; x < c->width; x++) {
            uint32_t rgb = row[x] & 0xffffff;
            int index = 0;
            while (index < N_COLOURS - 1 && PALETTE[index] != rgb) index++;
            c->line[x] = (GifByteType)index;
        }
        if (EGifPutLine(c->gif, c->line, c->width) == GIF_ERROR) return gif_fail(err, err_len, "cannot write", path, c->gif->Error);
    }
    return 0;
}

int mz_env_canvas_close_gif(mz_env_canvas *c, char *err, size_t err_len) {
    if (!c->gif) return 0;
    int code = 0;
    int rc = EGifCloseFile(c->gif, &code);
    c->gif = NULL;
    if (rc == GIF_ERROR) return gif_fail(err, err_len, "cannot finish", "gif", code);
    return 0;
}

void mz_env_canvas_destroy(mz_env_canvas *c) {
    if (!c) return;
    if (c->gif) {
        int code;
        EGifCloseFile(c->gif, &code);
    }
    cairo_destroy(c->cr);
    cairo_surface_destroy(c->surface);
    free(c->line);
    free(c);
}
