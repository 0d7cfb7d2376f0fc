/* Rendering an environment's state: text for terminals and tests, images
 * (cairo) as PNG frames or an animated GIF (giflib). Host-side; the caller
 * reads the state back with mz_vecenv_get_state. */
#ifndef MZ_RENDER_H
#define MZ_RENDER_H

#include <stddef.h>

#include "envs/env.h"

/* One frame as text, lines ending in '\n'; returns the bytes written (the
 * text is cut, still NUL-terminated, when `len` is too small). */
size_t mz_env_render_text(const mz_env_params *p, const void *state, char *out, size_t len);

/* Draws frames into RGB pixels (3 bytes each, row-major). */
typedef struct mz_env_canvas mz_env_canvas;
/* NULL and a message when the size cannot be drawn. */
mz_env_canvas *mz_env_canvas_create(const mz_env_params *p, char *err, size_t err_len);
int mz_env_canvas_width(const mz_env_canvas *c);
int mz_env_canvas_height(const mz_env_canvas *c);
void mz_env_canvas_draw(mz_env_canvas *c, const void *state);
/* 0, or -1 with a message naming the file. */
int mz_env_canvas_write_png(mz_env_canvas *c, const char *path, char *err, size_t err_len);
/* Appends the current frame to an animated GIF opened on first use;
 * mz_env_canvas_close_gif finishes the file. */
int mz_env_canvas_add_gif_frame(mz_env_canvas *c, const char *path, int delay_cs, char *err, size_t err_len);
int mz_env_canvas_close_gif(mz_env_canvas *c, char *err, size_t err_len);
void mz_env_canvas_destroy(mz_env_canvas *c);

#endif
