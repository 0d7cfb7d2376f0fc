#include "src/wandb_http.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "src/check.h"

void mz_base64(const void *bytes, size_t n, char *out) {
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = bytes;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out[o++] = digits[v >> 18 & 63];
        out[o++] = digits[v >> 12 & 63];
        out[o++] = i + 1 < n ? digits[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? digits[v & 63] : '=';
    }
    out[o] = '\0';
}

bool mz_wandb_retryable(long status, bool is_upsert) {
    if (status == 0 || status == 429 || (status >= 500 && status != 501)) return true;
    if (status == 409) return is_upsert;
    static const long never[] = {400, 401, 403, 404, 410, 413, 422, 501};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (status == never[i]) return false;
    return status >= 400; /* other 4xx; a 2xx or 3xx is not a failure at all */
}

double mz_wandb_backoff(int attempt, double base, double max, double u01, double retry_after) {
    if (retry_after >= 0) return retry_after;
    double delay = base * pow(2.0, attempt > 60 ? 60 : attempt);
    if (delay > max) delay = max;
    return delay * (1.0 + 0.25 * u01);
}

static size_t on_body(char *data, size_t size, size_t count, void *arg) {
    mz_strbuf *b = arg;
    /* a W&B answer is small; past 1 MiB the rest is of no use to us */
    if (b->len < (1u << 20)) mz_strbuf_append(b, data, size * count);
    return size * count;
}

static size_t on_header(char *data, size_t size, size_t count, void *arg) {
    mz_http_response *resp = arg;
    size_t n = size * count;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && !strncasecmp(data, name, sizeof name - 1)) {
        char value[128];
        size_t v = n - (sizeof name - 1);
        if (v >= sizeof value) v = sizeof value - 1;
        memcpy(value, data + sizeof name - 1, v);
        value[v] = '\0';
        char *end = NULL;
        double seconds = strtod(value, &end);
        if (end != value && seconds >= 0 && isfinite(seconds)) {
            resp->retry_after = seconds;
        } else { /* an HTTP date */
            time_t when = curl_getdate(value, NULL);
            if (when > 0) resp->retry_after = fmax(0.0, difftime(when, time(NULL)));
        }
    }
    return n;
}

typedef struct {
    mz_http_abort_fn fn;
    void *arg;
} abort_hook;

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    abort_hook *hook = arg;
    return hook->fn && hook->fn(hook->arg) ? 1 : 0;
}

long mz_http_post_json(CURL *curl, const char *url, const char *api_key, const char *body, double timeout_seconds,
                       mz_http_abort_fn should_abort, void *abort_arg, mz_http_response *resp) {
    memset(resp, 0, sizeof *resp);
    resp->retry_after = -1;
    char curl_error[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL, *h;
    h = curl_slist_append(headers, "Content-Type: application/json");
    MZ_CHECK(h, "curl_slist_append: out of memory");
    headers = h;
    h = curl_slist_append(headers, "User-Agent: mazero");
    MZ_CHECK(h, "curl_slist_append: out of memory");
    headers = h;
    if (api_key && api_key[0]) {
        size_t n = strlen(api_key) + 4;
        char *plain = mz_malloc(n + 1), *encoded = mz_malloc(4 * ((n + 2) / 3) + 1);
        snprintf(plain, n + 1, "api:%s", api_key);
        mz_base64(plain, n, encoded);
        size_t line_len = strlen(encoded) + 32;
        char *line = mz_malloc(line_len);
        snprintf(line, line_len, "Authorization: Basic %s", encoded);
        h = curl_slist_append(headers, line);
        /* the key must not linger in freed memory any longer than needed */
        memset(plain, 0, n);
        memset(line, 0, line_len);
        free(plain);
        free(encoded);
        free(line);
        MZ_CHECK(h, "curl_slist_append: out of memory");
        headers = h;
    }
    abort_hook hook = {should_abort, abort_arg};
    curl_easy_reset(curl);
    CURLcode rc = CURLE_OK;
    long timeout_ms = (long)(timeout_seconds * 1000.0);
    if (timeout_ms < 1) timeout_ms = 1;
#define SETOPT(opt, val)                                                                                         \
    if (rc == CURLE_OK) rc = curl_easy_setopt(curl, opt, val)
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_POST, 1L);
    SETOPT(CURLOPT_POSTFIELDS, body);
    SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    SETOPT(CURLOPT_HTTPHEADER, headers);
    SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    SETOPT(CURLOPT_NOSIGNAL, 1L); /* no SIGALRM from a background thread */
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, &resp->body);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, resp);
    SETOPT(CURLOPT_NOPROGRESS, 0L);
    SETOPT(CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(CURLOPT_XFERINFODATA, &hook);
    SETOPT(CURLOPT_ERRORBUFFER, curl_error);
#undef SETOPT
    if (rc == CURLE_OK) rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        CURLcode info = curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
        if (info != CURLE_OK) {
            resp->status = 0;
            snprintf(resp->error, sizeof resp->error, "curl_easy_getinfo: %s", curl_easy_strerror(info));
        }
    } else {
        resp->status = 0;
        snprintf(resp->error, sizeof resp->error, "curl error %d: %s", (int)rc,
                 curl_error[0] ? curl_error : curl_easy_strerror(rc));
    }
    /* the handle must not keep pointers to our stack and headers */
    curl_easy_reset(curl);
    curl_slist_free_all(headers);
    if (!resp->body.data) mz_strbuf_puts(&resp->body, "");
    return resp->status;
}
