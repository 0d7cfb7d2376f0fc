/* A recording HTTP server on 127.0.0.1 for the W&B client tests. It answers
 * like the W&B API (UpsertBucket, file_stream), or with scripted failures,
 * and records every request. Bounded: it stops after max_requests or
 * max_seconds, whichever comes first, and on recorder_stop. One request per
 * connection (it answers with Connection: close). */
#ifndef MZ_HTTP_RECORDER_H
#define MZ_HTTP_RECORDER_H

#include <pthread.h>
#include <stdbool.h>

#define RECORDER_MAX 512

typedef struct {
    char method[16], path[512], authorization[512];
    char *body;
    double at;  /* seconds since the recorder started */
    int status; /* what it was answered; 0 while unanswered (hung) */
} recorded_request;

/* What to answer to request i: status 0 means "answer like W&B", -1 means
 * "read the request and never answer" (a hung server). */
typedef struct {
    int status;
    int retry_after; /* seconds; < 0: no Retry-After header */
} scripted_answer;

typedef struct {
    int port;
    int listen_fd;
    pthread_t thread;
    pthread_mutex_t mu;
    bool stop;
    int max_requests;
    double max_seconds, start;
    /* scripted answers per path kind: graphql[i] for the i-th /graphql request */
    scripted_answer graphql[16], file_stream[16];
    int n_graphql_script, n_file_stream_script;
    int n_graphql, n_file_stream;
    recorded_request requests[RECORDER_MAX];
    int n;
} recorder;

void recorder_start(recorder *r, int max_requests, double max_seconds);
void recorder_stop(recorder *r);   /* joins the thread */
void recorder_free(recorder *r);   /* frees the recorded bodies */
/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
int unused_port(void);

#endif
