/* One HTTP POST with libcurl, and the W&B client's retry rules
 * (shared/reference/wandb-protocol.md sections 2 and 3). */
#ifndef MZ_WANDB_HTTP_H
#define MZ_WANDB_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "src/strbuf.h"

typedef struct {
    long status;        /* 0: no HTTP response (refused, timed out, aborted) */
    double retry_after; /* seconds from Retry-After; < 0 when absent */
    mz_strbuf body;
    char error[CURL_ERROR_SIZE + 64];
} mz_http_response;

/* Called during a transfer; returning true cuts it short. */
typedef bool (*mz_http_abort_fn)(void *arg);

/* POSTs `body` as application/json with `Authorization: Basic
 * base64("api:" + key)` when api_key is non-empty. Fills resp (free its
 * body with mz_strbuf_free); returns resp->status. */
long mz_http_post_json(CURL *curl, const char *url, const char *api_key, const char *body, double timeout_seconds,
                       mz_http_abort_fn should_abort, void *abort_arg, mz_http_response *resp);

/* Whether a failed attempt is worth retrying: connection errors, 429, 5xx
 * and most 4xx are; 400 401 403 404 409 410 413 422 501 are not, except
 * that UpsertBucket retries 409. */
bool mz_wandb_retryable(long status, bool is_upsert);

/* Delay before retry `attempt` (0-based): base * 2^attempt capped at max,
 * plus up to 25% jitter (`u01` uniform in [0, 1)); Retry-After, when the
 * server sent one, wins. */
double mz_wandb_backoff(int attempt, double base, double max, double u01, double retry_after);

/* Standard base64 of n bytes into out (NUL-terminated); out needs
 * 4 * ((n + 2) / 3) + 1 bytes. */
void mz_base64(const void *bytes, size_t n, char *out);

#endif
