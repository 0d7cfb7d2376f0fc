#include "tests/http_recorder.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "src/check.h"
#include "src/strbuf.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool should_stop(recorder *r) {
    pthread_mutex_lock(&r->mu);
    bool stop = r->stop || r->n >= r->max_requests || now() - r->start > r->max_seconds;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

static int listen_on(int port, int *bound_port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    MZ_CHECK(fd >= 0, "socket failed: %s", strerror(errno));
    int one = 1;
    MZ_CHECK(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "setsockopt: %s", strerror(errno));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    MZ_CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "bind 127.0.0.1:%d: %s", port, strerror(errno));
    socklen_t len = sizeof addr;
    MZ_CHECK(getsockname(fd, (struct sockaddr *)&addr, &len) == 0, "getsockname: %s", strerror(errno));
    *bound_port = ntohs(addr.sin_port);
    return fd;
}

int unused_port(void) {
    int port;
    int fd = listen_on(0, &port);
    close(fd);
    return port;
}

/* Reads one request (headers + Content-Length body); false on EOF/timeout. */
static bool read_request(recorder *r, int fd, mz_strbuf *raw, size_t *header_len, size_t *content_length) {
    char buf[8192];
    *header_len = 0;
    *content_length = 0;
    for (;;) {
        if (*header_len && raw->len >= *header_len + *content_length) return true;
        struct pollfd p = {fd, POLLIN, 0};
        int ready = poll(&p, 1, 50);
        if (ready == 0) {
            if (should_stop(r)) return false;
            continue;
        }
        ssize_t got = read(fd, buf, sizeof buf);
        if (got <= 0) return false;
        mz_strbuf_append(raw, buf, (size_t)got);
        if (!*header_len) {
            char *end = strstr(raw->data, "\r\n\r\n");
            if (!end) continue;
            *header_len = (size_t)(end - raw->data) + 4;
            for (char *line = raw->data; line < end; line = strstr(line, "\r\n") + 2)
                if (!strncasecmp(line, "Content-Length:", 15)) *content_length = strtoul(line + 15, NULL, 10);
        }
    }
}

static void header_value(const char *raw, size_t header_len, const char *name, char *out, size_t len) {
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *line = raw; line && line < raw + header_len; line = strstr(line, "\r\n")) {
        if (line != raw) line += 2;
        if (!strncasecmp(line, name, n) && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ') v++;
            size_t m = strcspn(v, "\r\n");
            snprintf(out, len, "%.*s", (int)(m < len ? m : len - 1), v);
            return;
        }
    }
}

/* The answer W&B would give to UpsertBucket: the run, project and entity. */
static char *upsert_answer(const char *body) {
    cJSON *req = cJSON_Parse(body);
    const cJSON *vars = req ? cJSON_GetObjectItem(req, "variables") : NULL;
    const cJSON *name = cJSON_GetObjectItem(vars, "name"), *project = cJSON_GetObjectItem(vars, "project"),
                *entity = cJSON_GetObjectItem(vars, "entity");
    char *answer = mz_malloc(2048);
    snprintf(answer, 2048,
             "{\"data\":{\"upsertBucket\":{\"bucket\":{\"id\":\"UnVuOnYx\",\"name\":\"%s\",\"displayName\":\"%s\","
             "\"description\":null,\"config\":\"{}\",\"sweepName\":null,\"project\":{\"id\":\"UHJvamVjdA==\","
             "\"name\":\"%s\",\"entity\":{\"id\":\"RW50aXR5\",\"name\":\"%s\"}},\"historyLineCount\":0},"
             "\"inserted\":true}}}",
             cJSON_IsString(name) ? name->valuestring : "r", cJSON_IsString(name) ? name->valuestring : "r",
             cJSON_IsString(project) ? project->valuestring : "p",
             cJSON_IsString(entity) ? entity->valuestring : "default-entity");
    cJSON_Delete(req);
    return answer;
}

static void serve_one(recorder *r, int fd) {
    mz_strbuf raw = {0};
    size_t header_len, content_length;
    if (!read_request(r, fd, &raw, &header_len, &content_length)) {
        mz_strbuf_free(&raw);
        return;
    }
    pthread_mutex_lock(&r->mu);
    bool room = r->n < RECORDER_MAX;
    recorded_request *q = room ? &r->requests[r->n++] : NULL;
    scripted_answer script = {0, -1};
    bool is_graphql = false;
    if (q) {
        sscanf(raw.data, "%15s %511s", q->method, q->path);
        header_value(raw.data, header_len, "Authorization", q->authorization, sizeof q->authorization);
        q->body = mz_malloc(content_length + 1);
        memcpy(q->body, raw.data + header_len, content_length);
        q->body[content_length] = '\0';
        q->at = now() - r->start;
        is_graphql = strstr(q->path, "/graphql") != NULL;
        if (is_graphql && r->n_graphql < r->n_graphql_script) script = r->graphql[r->n_graphql];
        if (!is_graphql && r->n_file_stream < r->n_file_stream_script) script = r->file_stream[r->n_file_stream];
        if (is_graphql) r->n_graphql++;
        else r->n_file_stream++;
    }
    pthread_mutex_unlock(&r->mu);
    if (script.status == -1) { /* hung: hold the connection until told to stop */
        while (!should_stop(r)) nanosleep(&(struct timespec){0, 20000000}, NULL);
        mz_strbuf_free(&raw);
        return;
    }
    char *body = NULL;
    int status = script.status ? script.status : 200;
    pthread_mutex_lock(&r->mu);
    if (q) q->status = status;
    pthread_mutex_unlock(&r->mu);
    if (status != 200) body = mz_strdup("{\"error\":\"scripted failure\"}");
    else if (is_graphql) body = upsert_answer(q->body);
    else body = mz_strdup("{\"exitcode\":null,\"limits\":{}}");
    char head[512], retry[64] = "";
    if (script.retry_after >= 0) snprintf(retry, sizeof retry, "Retry-After: %d\r\n", script.retry_after);
    snprintf(head, sizeof head,
             "HTTP/1.1 %d Scripted\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%sConnection: "
             "close\r\n\r\n",
             status, strlen(body), retry);
    if (write(fd, head, strlen(head)) < 0 || write(fd, body, strlen(body)) < 0) { /* the client went away */
    }
    free(body);
    mz_strbuf_free(&raw);
}

static void *serve(void *arg) {
    recorder *r = arg;
    while (!should_stop(r)) {
        struct pollfd p = {r->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(r->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        serve_one(r, fd);
        close(fd);
    }
    return NULL;
}

void recorder_start(recorder *r, int max_requests, double max_seconds) {
    r->max_requests = max_requests < RECORDER_MAX ? max_requests : RECORDER_MAX;
    r->max_seconds = max_seconds;
    r->start = now();
    r->listen_fd = listen_on(0, &r->port);
    MZ_CHECK(listen(r->listen_fd, 16) == 0, "listen: %s", strerror(errno));
    MZ_CHECK(pthread_mutex_init(&r->mu, NULL) == 0, "pthread_mutex_init failed");
    MZ_CHECK(pthread_create(&r->thread, NULL, serve, r) == 0, "pthread_create failed");
}

void recorder_stop(recorder *r) {
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_mutex_unlock(&r->mu);
    MZ_CHECK(pthread_join(r->thread, NULL) == 0, "pthread_join failed");
    close(r->listen_fd);
}

void recorder_free(recorder *r) {
    for (int i = 0; i < r->n; i++) free(r->requests[i].body);
    pthread_mutex_destroy(&r->mu);
}
