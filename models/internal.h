/* Private helpers shared by the files of models/. */
#ifndef HEARTH_MODELS_INTERNAL_H
#define HEARTH_MODELS_INTERNAL_H

#include <curl/curl.h>

#include "models.h"

/* What <dir>/<file>.json records about an installed model. */
typedef struct {
    const char *name; /* catalogue name or NULL */
    const char *url;
    uint64_t size;
    const char *sha256;
    bool verified;
} models_manifest;

/* out = dir/file + suffix; false (with a reason) when it does not fit. */
bool models_join(char *out, size_t cap, const char *dir, const char *file, const char *suffix,
                 char *err, size_t errlen);
/* A plain file name: [A-Za-z0-9._+-], not starting with '.', at most 255 bytes. */
bool models_file_name_ok(const char *file);
/* Writes the manifest atomically (temp + rename). */
bool models_manifest_write(const char *dir, const char *file, const models_manifest *m, char *err,
                           size_t errlen);
/* curl_global_init exactly once per process (thread-safe). */
void models_curl_init(void);
/* Seconds on the monotonic clock. */
double models_now_s(void);
/* URL, error buffer (CURL_ERROR_SIZE), http(s) only (redirects too), redirects followed, connect
 * time-out, no signals. */
void models_curl_common(CURL *h, const char *url, long connect_timeout_ms, char *errbuf);
void models_sleep_s(double s);
/* base * 2^attempt, at most cap: the wait before retry number attempt+1. */
double models_backoff_s(int attempt, double base, double cap);

#endif
