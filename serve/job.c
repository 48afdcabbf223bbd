/* Jobs: one request's parameters and results, shared by the loop thread and the scheduler. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

serve_job *serve_job_new(job_kind kind) {
    serve_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->kind = kind;
    j->refs = 1;
    j->sampling = engine_sampler_default_params();
    return j;
}

void serve_job_unref_locked(serve_job *j) {
    if (--j->refs > 0) return;
    free(j->prompt);
    free(j->prefix);
    free(j->suffix);
    free(j->path);
    free(j->language);
    for (int i = 0; i < j->n_extras; i++) {
        free(j->extras[i].path);
        free(j->extras[i].text);
        free(j->extras[i].language);
    }
    free(j->extras);
    for (int i = 0; i < j->n_stops; i++) free(j->stops[i]);
    for (int32_t i = 0; j->inputs && i < j->n_in; i++) embed_item_clear(&j->inputs[i]);
    free(j->inputs);
    free(j->out);
    free(j->vecs);
    free(j->embeddings);
    free(j);
}

void serve_job_mark_ready_locked(serve_server *s, serve_job *j) {
    if (j->in_ready) return;
    j->in_ready = true;
    j->refs++; /* the ready list's reference */
    j->next_ready = s->ready_head;
    s->ready_head = j;
}

void serve_job_push_text_locked(serve_server *s, serve_job *j, const char *text, size_t n) {
    if (n > 0) {
        if (j->out_len + n + 1 > j->out_cap) {
            size_t cap = j->out_cap ? j->out_cap * 2 : 256;
            while (cap < j->out_len + n + 1) cap *= 2;
            char *o = realloc(j->out, cap);
            if (!o) return; /* text lost under memory exhaustion; the request still ends */
            j->out = o;
            j->out_cap = cap;
        }
        memcpy(j->out + j->out_len, text, n);
        j->out_len += n;
        j->out[j->out_len] = 0;
    }
    serve_job_mark_ready_locked(s, j);
}
