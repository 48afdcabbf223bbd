/* Private to lsp/: the pieces the server is made of. Only the loop thread touches lsp_server,
 * documents and JSON; the worker thread sees lsp_job payloads only (plain C data). */
#ifndef HEARTH_LSP_INTERNAL_H
#define HEARTH_LSP_INTERNAL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lsp.h"
#include "runtime.h"

/* JSON-RPC and LSP error codes. */
enum {
    LSP_PARSE_ERROR = -32700,
    LSP_INVALID_REQUEST = -32600,
    LSP_METHOD_NOT_FOUND = -32601,
    LSP_INVALID_PARAMS = -32602,
    LSP_INTERNAL_ERROR = -32603,
    LSP_SERVER_NOT_INITIALIZED = -32002,
    LSP_REQUEST_FAILED = -32803,
    LSP_REQUEST_CANCELLED = -32800,
};

/* window/logMessage types. */
enum { LSP_LOG_ERROR = 1, LSP_LOG_WARNING = 2, LSP_LOG_INFO = 3, LSP_LOG_DEBUG = 4 };

/* ---- rpc.c: Content-Length framing ---- */

#define LSP_MAX_HEADER 8192        /* a header section longer than this is garbage */
#define LSP_MAX_BODY   (64u << 20) /* larger bodies are refused (and skipped) */

typedef struct {
    char *buf;
    size_t len, cap, pos; /* bytes [pos, len) are not consumed yet */
    bool resync;          /* after garbage: skip to the next "Content-Length" */
} lsp_framer;

typedef enum { LSP_FRAME_MORE, LSP_FRAME_BODY, LSP_FRAME_BAD } lsp_frame_status;

/* Appends received bytes; false if out of memory. Invalidates bodies returned before. */
bool lsp_framer_push(lsp_framer *f, const char *data, size_t n);
/* The next complete body (pointer into the framer, valid until the next push), MORE when more
 * bytes are needed, or BAD with a reason (the framer has already resynchronized past it). */
lsp_frame_status lsp_framer_next(lsp_framer *f, const char **body, size_t *len, char *err,
                                 size_t errlen);
void lsp_framer_free(lsp_framer *f);
/* "Content-Length: N\r\n\r\n" + body, malloc'd; NULL if out of memory. */
char *lsp_frame_encode(const char *body, size_t len, size_t *out_len);
/* Parses a message body. Strings may hold U+0000 (JSON_ALLOW_NUL: the server keeps lengths), and
 * a lone surrogate escape (\ud800 without its pair, which JavaScript strings can hold and jansson
 * refuses) becomes U+FFFD, one UTF-16 unit like the editor's, so positions stay in step. */
json_t *lsp_json_parse(const char *body, size_t len, json_error_t *je);

/* ---- document.c: text and positions ---- */

typedef enum { LSP_ENC_UTF16 = 0, LSP_ENC_UTF8 = 1 } lsp_encoding;

typedef struct lsp_syntax lsp_syntax;

typedef struct lsp_doc {
    char *uri, *language_id;
    int64_t version;
    char *text; /* always valid UTF-8 (jansson rejects anything else), NUL-terminated */
    size_t len, cap;
    lsp_syntax *syntax; /* NULL when no grammar matches language_id */
    size_t last_edit;   /* byte offset of the latest edit (cross-file completion context) */
    uint64_t touched;   /* uv_hrtime() of the latest open or edit */
    struct lsp_doc *next;
} lsp_doc;

typedef struct {
    size_t start, old_end, new_end; /* byte offsets of an edit, for the syntax tree */
} lsp_edit;

lsp_doc *lsp_doc_new(const char *uri, const char *language_id, int64_t version, const char *text,
                     size_t len);
void lsp_doc_free(lsp_doc *d);
/* Byte offset of an LSP position; characters past the line end clamp to it, lines past the end
 * clamp to the end of the text, a position inside a character rounds down to its start. */
size_t lsp_doc_offset(const lsp_doc *d, int64_t line, int64_t character, lsp_encoding enc);
/* LSP position of a byte offset (offset clamped to the text). */
void lsp_doc_position(const lsp_doc *d, size_t off, lsp_encoding enc, int64_t *line,
                      int64_t *character);
/* Replaces bytes [e->start, e->old_end) with text (e->new_end = start + len). False if out of
 * memory (text unchanged). */
bool lsp_doc_replace(lsp_doc *d, const lsp_edit *e, const char *text, size_t len);
bool lsp_doc_set_text(lsp_doc *d, const char *text, size_t len);

/* ---- syntax.c: tree-sitter trees ---- */

/* A parser + tree for a language id (LSP languageId), or NULL when none matches. */
lsp_syntax *lsp_syntax_new(const char *language_id);
void lsp_syntax_free(lsp_syntax *s);
/* Tells the tree about an edit; called before the text changes (old_text is the text before). */
void lsp_syntax_edit(lsp_syntax *s, const char *old_text, const lsp_edit *e, const char *inserted,
                     size_t inserted_len);
/* Parsing runs on the event loop: a document larger than this (generated code, data dumps) would
 * stall it for seconds, so it goes without a tree. */
#define LSP_SYNTAX_MAX_BYTES ((size_t)4 << 20)
/* (Re)parses the text, reusing the edited tree; false (and no tree) if tree-sitter gave up or the
 * text is over LSP_SYNTAX_MAX_BYTES. */
bool lsp_syntax_parse(lsp_syntax *s, const char *text, size_t len);
/* The tree as an s-expression (malloc'd), NULL when there is no tree. */
char *lsp_syntax_sexp(const lsp_syntax *s);
const char *lsp_syntax_language(const lsp_syntax *s);
/* The tree of the text as last parsed (NULL when there is none); valid until the next edit. */
typedef struct TSTree TSTree;
const TSTree *lsp_syntax_tree(const lsp_syntax *s);
int lsp_syntax_parses(const lsp_syntax *s); /* parses so far; the first is the full one */

/* ---- scheduler.c: jobs on runtime/'s scheduler thread, results back through uv_async ----
 *
 * `hearth lsp` runs one inference thread (runtime_sched): completion and the completion model's
 * load in the FIM lane, hearth.ask / hearth.index / re-index on save / the chat model's idle
 * unload in the chat lane. Long jobs yield between answer tokens and index batches, so a
 * completion waits at most one such step. */

typedef struct lsp_job lsp_job;
typedef struct lsp_server lsp_server;
typedef struct lsp_sched lsp_sched;

/* Runs on the scheduler thread; sees only job->data and its state (job->state). */
typedef void (*lsp_job_run_fn)(lsp_job *job, void *state);
/* Runs on the loop thread after run (or instead of it, when cancelled before it started). */
typedef void (*lsp_job_done_fn)(lsp_server *s, lsp_job *job);

struct lsp_job {
    runtime_job rt; /* lane, cancel flag (set by the loop, polled by run), yields */
    lsp_job_run_fn run;
    lsp_job_done_fn done;
    bool started;     /* written on the scheduler thread before run */
    json_t *id;       /* the request's id (loop thread only; NULL for internal jobs) */
    char *uri;        /* the document it works for (supersede rule), or NULL */
    const char *kind; /* jobs of the same kind and uri supersede each other */
    void *data;
    void (*free_data)(void *data);
    void *state; /* what run gets besides the job (the completion or the commands' worker) */
    /* Messages the running job hands the loop (lsp_job_post): post() gets each on the loop thread
     * (then free_msg frees it), always before done; NULL post = the job posts nothing. */
    void (*post)(lsp_server *s, lsp_job *job, void *msg);
    void (*free_msg)(void *msg);
    void *posted;       /* the message not delivered yet (guarded by the scheduler's lock) */
    lsp_job *post_next; /* the scheduler's list of jobs with a message (guarded likewise) */
    lsp_sched *q;       /* set by lsp_sched_submit */
    lsp_job *next;      /* the done queue's link (owned by the scheduler) */
    lsp_job *live_next; /* the server's in-flight list (loop thread) */
};

lsp_job *lsp_job_new(const char *kind, runtime_lane lane, lsp_job_run_fn run, lsp_job_done_fn done);
void lsp_job_free(lsp_job *j);
static inline bool lsp_job_cancelled(lsp_job *j) {
    return runtime_job_cancelled(&j->rt);
}
/* Scheduler thread, between two steps of a long job: runs the higher-lane jobs waiting now
 * (completion first), then returns; false when j is cancelled. */
static inline bool lsp_job_yield(lsp_job *j) {
    return runtime_sched_yield(&j->rt);
}
/* Scheduler thread, while j runs: hands msg (taken) to j->post on the loop thread. Only the
 * latest state matters to the loop (a suggestion so far): a message not delivered yet is
 * replaced (freed), so a slow loop never falls behind. j's last message is delivered before its
 * done callback runs, and none after. */
void lsp_job_post(lsp_job *j, void *msg);
/* Starts the scheduler thread. */
lsp_sched *lsp_sched_new(lsp_server *s, uv_loop_t *loop, char *err, size_t errlen);
/* The job belongs to the scheduler until done() returns, then it is freed. */
void lsp_sched_submit(lsp_sched *q, lsp_job *j);
/* Cancels queued jobs, asks the running one to stop, joins the thread and answers what
 * finished. Loop thread, once. */
void lsp_sched_stop(lsp_sched *q);
void lsp_sched_free(lsp_sched *q);
/* Inference threads running (1 while started): for hearth/debugWork. */
int lsp_sched_threads(lsp_sched *q);

/* ---- server.c: lifecycle, dispatch, replies ---- */

typedef enum { LSP_STATE_NEW, LSP_STATE_RUNNING, LSP_STATE_SHUTDOWN } lsp_state;

typedef struct lsp_worker lsp_worker;     /* complete.c: the completion jobs' state */
typedef struct lsp_commands lsp_commands; /* commands.c: hearth.ask / hearth.index */
typedef struct lsp_progress lsp_progress; /* progress.c */

/* ahead.c: prefill jobs (the next request's prompt evaluated ahead of it), what they did. */
typedef struct {
    int64_t submitted, finished, cancelled, failed;
    int64_t skipped;   /* the engine was already at that place of that text, or an answer streams */
    int64_t ignored;   /* hearth/cursor notifications with bad params */
    int64_t evaluated; /* prompt tokens the prefills evaluated */
    int64_t refreshed; /* moved (kvShift) entries the prefills evaluated again, exactly */
    const char *last_why; /* "open", "newline", "idle", "cursor", "refresh" (static strings) */
    int32_t last_prompt, last_reused, last_evaluated;
    double last_ms;
} lsp_prefill_stats;

typedef struct {
    bool cursor_seen;   /* a client sent hearth/cursor: it tells us where the cursor is */
    int debug_chunk_ms; /* tests: each prefill chunk waits this long first (debugPrefillChunkMs) */
    double debug_tokens_per_ms; /* tests: the prefill speed the budget assumes (debugTokensPerMs) */
    uv_timer_t idle; /* IDLE_MS after an edit no request followed: a prefill at its end */
    bool idle_ready; /* the timer is initialised (lazily; closed at stop) */
    char *idle_uri;  /* the edited document, and where its last edit ended */
    size_t idle_off;
    uint64_t idle_touched;
    const char *idle_why; /* "idle", "open" for the didOpen guess, "refresh" after kvShift */
    char *pending_uri;    /* hearth/cursor for a document not open yet: used at its didOpen */
    int64_t pending_line, pending_ch;
    char *last_uri; /* where the engine last worked (a request or a prefill): no second prefill */
    size_t last_off;
    uint64_t last_touched;
    lsp_prefill_stats stats;
} lsp_ahead;

struct lsp_server {
    uv_loop_t loop;
    uv_stream_t *in, *out;
    lsp_framer framer;
    lsp_options opt;
    char *model_path;     /* owned copy of the completion model setting (a name or a path) */
    runtime_registry *rt; /* the models the jobs load (shared, any thread) */
    lsp_encoding enc;
    lsp_state state;
    bool stopping;
    bool client_progress;   /* the client accepts window/workDoneProgress/create */
    bool model_status;      /* initializationOptions.modelStatus: send hearth/model */
    lsp_progress *progress; /* the model load being reported, or NULL */
    lsp_job *loading;       /* the latest model-loading job while it is live */
    int exit_code;
    lsp_doc *docs;
    lsp_sched *sched;
    lsp_worker *worker;
    lsp_commands *commands; /* hearth.ask / hearth.index (NULL detached) */
    lsp_job *live;          /* jobs submitted and not done yet */
    lsp_ahead ahead;        /* prefill-ahead state (ahead.c) */
    uv_shutdown_t out_shutdown;
    void (*sink)(void *user, const char *body, size_t len); /* detached servers: sees replies */
    void *sink_user;
    char rbuf[64 * 1024];
};

void lsp_send(lsp_server *s, json_t *msg);                 /* steals msg */
void lsp_reply(lsp_server *s, json_t *id, json_t *result); /* steals result */
void lsp_reply_error(lsp_server *s, json_t *id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void lsp_notify(lsp_server *s, const char *method, json_t *params); /* steals params */
void lsp_log(lsp_server *s, int type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* window/showMessage (an error the user should see) and the same line in the log. */
void lsp_show_error(lsp_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Submits a job, after cancelling older live jobs of the same kind and uri. */
void lsp_submit(lsp_server *s, lsp_job *j);
/* Cancels live jobs: those of a uri (kind NULL = any kind), or all (uri NULL). */
void lsp_cancel_jobs(lsp_server *s, const char *uri, const char *kind);
/* Scheduler -> server: the job is about to get its done callback. */
void lsp_live_remove(lsp_server *s, lsp_job *j);

/* Feeds received bytes through framing and dispatch (what the stdin reader does). */
void lsp_server_feed(lsp_server *s, const char *data, size_t n);
/* A server without streams, for the fuzzer and unit tests: replies are dropped. The free
 * function stops it (cancelling jobs) and returns the exit code `exit` would have given. */
lsp_server *lsp_server_new_detached(char *err, size_t errlen);
int lsp_server_free_detached(lsp_server *s);

/* ---- progress.c: window/workDoneProgress for long work (model loading) ---- */

/* Asks the client for a progress token; begin is sent once it agrees. No-op for clients without
 * window.workDoneProgress. A previous progress still open is ended first. */
void lsp_progress_start(lsp_server *s, const char *title, const char *message);
/* Ends the current progress (at once, or when the client's agreement arrives). */
void lsp_progress_end(lsp_server *s, const char *message);
/* A response from the client; true if it answered one of our progress requests. */
bool lsp_progress_response(lsp_server *s, json_t *id);
void lsp_progress_free(lsp_progress *p);

/* ---- methods.c: lifecycle and document methods; complete.c: completion ---- */

typedef void (*lsp_handler_fn)(lsp_server *s, json_t *id, json_t *params);
typedef struct {
    const char *method;
    lsp_handler_fn fn;
    bool request; /* false: a notification */
} lsp_method;

/* NULL-terminated tables. */
extern const lsp_method lsp_doc_methods[];
extern const lsp_method lsp_complete_methods[];
void lsp_handle_initialize(lsp_server *s, json_t *id, json_t *params);
lsp_doc *lsp_doc_find(lsp_server *s, const char *uri);
/* The document named by params.textDocument.uri, or NULL after answering id with an error. */
lsp_doc *lsp_params_doc(lsp_server *s, json_t *id, json_t *params);

lsp_worker *lsp_worker_new(runtime_registry *rt);
void lsp_worker_free(lsp_worker *w); /* after the scheduler stopped */
/* Applies initializationOptions (model path etc.); true if a model is configured. */
void lsp_complete_configure(lsp_server *s, json_t *init_options);

/* complete.c: submits a prefill job at byte off of doc (FIM lane, kind "prefill": the prompt a
 * request there would build, evaluated without generating); false when there is no local model
 * to run it on (none configured, a remote backend) or out of memory. why is a static string. */
bool lsp_prefill_submit(lsp_server *s, const lsp_doc *doc, size_t off, const char *why);

/* ---- ahead.c: when to work ahead of the request (issue 19) ---- */

extern const lsp_method lsp_ahead_methods[]; /* hearth/cursor */
/* prefillAhead (bool) and debugPrefillChunkMs of initializationOptions or settings.hearth. */
void lsp_ahead_settings(lsp_server *s, json_t *options);
void lsp_ahead_opened(lsp_server *s, lsp_doc *doc);
/* After didChange: off is where the last ranged change's text ends; newline: a change inserted
 * one. */
void lsp_ahead_edited(lsp_server *s, lsp_doc *doc, size_t off, bool newline);
void lsp_ahead_closed(lsp_server *s, const char *uri);
/* A real completion request at byte off of doc: prefills stop, the idle prefill is off. */
void lsp_ahead_requested(lsp_server *s, const lsp_doc *doc, size_t off);
/* A suggestion was built on moved cache entries (kvShift) or shrunk windows (maxPromptMs, the
 * quick cache): at the next pause with no edit or request (300 ms), a prefill at the same place
 * builds the whole prompt (beside the small one) and evaluates moved entries again, exactly. */
void lsp_ahead_stale(lsp_server *s, const char *uri, int64_t line, int64_t character);
json_t *lsp_ahead_json(const lsp_server *s); /* the stats, for hearth/debugWork */
void lsp_ahead_stop(lsp_server *s);          /* closes the timer (server stop) */
void lsp_ahead_free(lsp_server *s);

/* ---- commands.c, ask.c: hearth.index / hearth.ask (executeCommand), re-index on save ---- */

extern const lsp_method lsp_command_methods[];
lsp_commands *lsp_commands_new(lsp_server *s, char *err, size_t errlen);
/* Delivers what the jobs queued and closes the handles (after lsp_sched_stop). Loop thread. */
void lsp_commands_stop(lsp_commands *c);
void lsp_commands_free(lsp_commands *c); /* after the loop closed the handles */
/* Workspace root and initializationOptions (chatModel, embeddingModel, ...). */
void lsp_commands_configure(lsp_server *s, json_t *init_params);
json_t *lsp_commands_capability(void); /* executeCommandProvider */
/* chatModel / embeddingModel of initializationOptions or settings.hearth (names or paths; an
 * unresolvable one is shown to the user at once). Loop thread. */
void lsp_commands_settings(lsp_server *s, json_t *options);
/* A response from the client; true if it answered one of our progress token requests. */
bool lsp_commands_response(lsp_server *s, json_t *id);
void lsp_commands_did_save(lsp_server *s, const char *uri);

#endif
