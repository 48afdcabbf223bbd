/* Private to lsp/commands.c and lsp/ask.c: the state behind hearth.index and hearth.ask. */
#ifndef HEARTH_LSP_COMMANDS_H
#define HEARTH_LSP_COMMANDS_H

#include "index.h"
#include "lsp_internal.h"

#define CHAT_IDLE_S    300 /* unload the chat model after this long without a question */
#define CHAT_CTX       8192
#define ANSWER_TOKENS  1024
#define PROGRESS_EVERY 0.25 /* seconds between $/progress reports */

typedef enum { MSG_ANSWER, MSG_PROGRESS } msg_kind;

/* Worker -> loop: a piece of answer or an index progress report. */
typedef struct stream_msg {
    msg_kind kind;
    char *token; /* JSON text of the answer's token */
    char *text;
    int64_t files_done, files_total, chunks;
    unsigned serial; /* progress: the index build it belongs to */
    struct stream_msg *next;
} stream_msg;

/* The chat-lane jobs' models, loaded on first use and unloaded together when idle: the chat
 * model, and the embedding model with its embed/ service (so hearth.ask embeds each question
 * without reloading the model). */
typedef struct {
    runtime_registry *rt;      /* the server's */
    engine_model *chat;        /* acquired from rt, or NULL */
    char *chat_path;           /* the name it was acquired by */
    engine_model *embed_model; /* acquired from rt for hearth.ask's queries, or NULL */
    embed_service *embed;      /* over embed_model, kept across questions */
    char *embed_path;          /* the name it was acquired by */
    char *embed_file;          /* the file that name resolved to */
    /* hearth.ask's search, kept open across questions (the store, the vectors in memory; it
     * notices a re-index itself): one root at a time, over embed (borrowed: closed before the
     * service is) or none for lexical searches */
    index_searcher *searcher;
    char *searcher_root;
    embed_service *searcher_embed;
} bg_worker;

/* The progress of the one index build being reported (a newer build takes it over). */
typedef struct {
    char token[128]; /* JSON text */
    unsigned serial; /* the build it reports (a superseded build must not end it) */
    bool active, acked, ended, created_by_us;
    char *end_message; /* ended before the client agreed to our token */
    stream_msg *last;  /* the latest report held until the client agrees */
} index_progress_state;

struct lsp_commands {
    lsp_server *s;
    bg_worker worker;
    uv_async_t async;
    uv_mutex_t lock;
    stream_msg *head, *tail; /* guarded by lock */
    uv_timer_t idle;
    bool handles_open;
    char *root, *chat_model, *embed_model;
    int chat_idle_s, chat_ctx;
    index_progress_state prog;
};

char *lsp_path_to_uri(const char *root, const char *rel);
/* Worker -> loop: queues m (taken) for the loop thread. */
void lsp_commands_stream_push(lsp_commands *c, stream_msg *m);
/* Loop thread: delivers what the workers queued (before a job's final reply). */
void lsp_commands_drain(lsp_commands *c);
void lsp_commands_submit_bg(lsp_server *s, lsp_job *j);
const char *lsp_commands_root_for(lsp_server *s, json_t *id, json_t *arg);

/* ask.c */
void lsp_command_ask(lsp_server *s, json_t *id, json_t *params, json_t *arg);
/* Loop thread: the chat model has been idle for chat_idle_s; unload it on the worker. */
void ask_unload_idle(lsp_server *s);
/* Worker: releases the chat model (unloaded unless completion uses the same file). */
void lsp_bg_worker_free(bg_worker *w);
/* Worker: the path of the embedding model name stands for (NULL name: NULL, the index's own);
 * false with a message naming it and how to install it. *path is malloc'd. */
bool lsp_embed_path(const char *name, char **path, char *err, size_t errlen);
/* Worker: the embedding service over the model name stands for, acquired through the registry
 * and kept in w across questions and index builds (a different name replaces it); NULL with a
 * message in err. w->embed_file is then the resolved file. */
embed_service *lsp_bg_embedder(bg_worker *w, const char *name, int n_threads, char *err,
                               size_t errlen);

#endif
