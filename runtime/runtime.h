/* runtime: what every front end (cli/, lsp/, serve/) shares below its protocol. This header is
 * the only door into runtime/.
 *
 * - The model registry: one way to turn what a user typed — a path, a file name in the models
 *   dir, a catalogue name — into a loaded engine_model, for every role (completion, chat,
 *   embedding) and every front end (flags, initializationOptions, settings, config.json, HTTP).
 *   A file is loaded once (identified by device + inode, so a symlink or a second name shares
 *   it), shared by reference count, and unloaded by runtime_sweep once nobody has used it for
 *   the registry's idle period.
 * - The backend choice per role: the local engine, or the configuration's OpenAI-compatible
 *   server with an optional local fallback (runtime_backend_*).
 * - The scheduler (runtime_sched_*): one thread on which a front end's inference runs, in
 *   priority lanes (FIM completion > embeddings > chat/index).
 *
 * Every function that can fail returns false/NULL and writes a one-line reason into the caller's
 * err buffer; nothing here prints. */
#ifndef HEARTH_RUNTIME_H
#define HEARTH_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "models.h"

#define RUNTIME_ERR_LEN 1024

/* ---- resolving names ---- */

/* The model file for what a user typed: an existing file path, a catalogue name or a file name
 * (with or without .gguf) in the models dir. malloc'd path, or NULL with a message naming the
 * role, the name and how to install it ("run 'hearth pull NAME'"). Thread-safe. */
char *runtime_resolve(const char *name, models_role role, char *err, size_t errlen);

/* ---- the model registry ---- */

typedef struct runtime_registry runtime_registry;

/* An empty registry. A model released by its last user stays loaded for idle_ms (0: until the
 * next runtime_sweep). NULL when out of memory. */
runtime_registry *runtime_registry_new(int64_t idle_ms);
/* Unloads every model; callers must have released theirs (and freed their contexts). */
void runtime_registry_free(runtime_registry *r);

/* The model name resolves to (runtime_resolve), loaded now or shared if that file is loaded
 * already; the caller borrows it until runtime_model_release. Loading takes seconds for big
 * models: call it off event loops. Thread-safe (two callers of the same file wait for one load).
 */
engine_model *runtime_model_acquire(runtime_registry *r, const char *name, models_role role,
                                    char *err, size_t errlen);
/* Ends one use of m (from runtime_model_acquire; NULL is ignored). Thread-safe. */
void runtime_model_release(runtime_registry *r, engine_model *m);
/* Unloads models unused for the idle period; returns how many. Thread-safe. */
int runtime_sweep(runtime_registry *r);

typedef struct {
    char path[MODELS_PATH_LEN]; /* the file as first resolved */
    int64_t loads;              /* times the file was mapped and validated */
    int32_t users;              /* acquisitions not yet released */
    bool loaded;
} runtime_model_stat;

/* Loads of the file name resolves to (0 when never loaded or unresolvable). Thread-safe. */
int64_t runtime_model_loads(runtime_registry *r, const char *name);
/* Every file the registry has loaded, in order of first load: fills up to max and returns how
 * many there are. Thread-safe. */
int runtime_registry_stats(runtime_registry *r, runtime_model_stat *out, int max);

/* ---- the backend of a role ---- */

typedef struct {
    const models_backend *remote; /* the role's OpenAI-compatible server (in the config), or NULL */
    const char *local; /* local model name: the one to run, or (remote) the fallback; NULL = none */
    bool local_is_default; /* local is the built-in default (quietly none when not installed) */
} runtime_backend;

/* Chooses the backend of role from cfg (NULL = every role local). given is a model the front end
 * was told to use (flag, initializationOptions); given_pins_local makes it win over a configured
 * server (one-shot CLI commands), otherwise a configured server wins and given is its fallback
 * unless the configuration names a local_model. A local role without given uses the config's
 * model, else (completion) MODELS_DEFAULT_COMPLETION. out borrows from cfg and given. */
void runtime_backend_choose(const models_config *cfg, models_role role, const char *given,
                            bool given_pins_local, runtime_backend *out);
/* The same after reading the configuration file into cfg (freed by the caller with
 * models_config_free, also on failure). False when the file is malformed. */
bool runtime_backend_load(models_config *cfg, models_role role, const char *given,
                          bool given_pins_local, runtime_backend *out, char *err, size_t errlen);
/* After a failed remote call: true when the local model should answer instead — the
 * configuration asks for a fallback, there is a local model, the server gave no answer
 * (backend_down) and nothing was output yet. */
bool runtime_backend_falls_back(const runtime_backend *b, bool backend_down, bool any_output);

/* ---- the scheduler: one inference thread, priority lanes ----
 *
 * A front end submits jobs; one thread runs them, the highest lane first, FIFO within a lane, in
 * rounds: a round runs the jobs that were waiting when it began, FIM jobs also when they arrive
 * during it; the rest wait for the next round. So work that resubmits itself slice by slice (an
 * embedding request of thousands of texts) takes turns with a lower lane instead of starving it.
 * A long job (answer tokens, index batches, batched decoding steps) calls runtime_sched_yield
 * between its steps: the higher-lane jobs that were waiting when it was called (FIM jobs: also
 * those arriving meanwhile) run inline on the same thread, then the long job goes on. So a
 * completion waits at most one step of a long job, and there is one inference thread, no polling. A
 * job's done callback hands its result back (front ends with an event loop wake it there, e.g. with
 * uv_async_send): it fires exactly once per submitted job, after run or instead of it (a job
 * cancelled before it started, or still queued at stop, is not run), so every request gets one
 * answer. */

typedef enum {
    RUNTIME_LANE_FIM = 0, /* FIM completion: a person is waiting for each keystroke */
    RUNTIME_LANE_EMBED,   /* embeddings (query vectors, /v1/embeddings slices) */
    RUNTIME_LANE_CHAT,    /* chat answers, index builds, batched generation */
    RUNTIME_LANES
} runtime_lane;

typedef struct runtime_sched runtime_sched;
typedef struct runtime_job runtime_job;

/* Runs on the scheduler thread. */
typedef void (*runtime_job_fn)(runtime_job *j);
/* Runs on the scheduler thread once per submission, after run (ran) or instead of it. The
 * scheduler no longer touches j when it is called: done may free j or submit it again (the
 * next slice of the same work goes to the back of its lane). */
typedef void (*runtime_done_fn)(runtime_job *j, bool ran);

/* A job is the caller's memory (embed it in your own request struct), alive until done. */
struct runtime_job {
    runtime_lane lane;    /* set before submitting */
    runtime_job_fn run;   /* required */
    runtime_done_fn done; /* may be NULL */
    void *user;           /* the caller's */
    atomic_bool cancel;   /* any thread (runtime_job_cancel); the job polls it */
    /* the scheduler's */
    runtime_sched *sched;
    uint64_t ticket;
    runtime_job *next;
};

/* Sets the fields above (cancel cleared). */
void runtime_job_init(runtime_job *j, runtime_lane lane, runtime_job_fn run, runtime_done_fn done,
                      void *user);
/* Asks the job to stop (any thread): a queued job will not run, a running one sees it. */
void runtime_job_cancel(runtime_job *j);
bool runtime_job_cancelled(runtime_job *j);

/* Starts the scheduler's thread (named "hearth-sched"). NULL with a reason on failure. */
runtime_sched *runtime_sched_new(char *err, size_t errlen);
/* Queues j (any thread, also from a job or a done callback). False once the scheduler is
 * stopping: then j is not taken and done will not be called for it. */
bool runtime_sched_submit(runtime_sched *s, runtime_job *j);
/* Called by a running job between its steps (scheduler thread): runs inline, in lane order, the
 * jobs of higher lanes than self's that were queued when it was called, and FIM jobs until none
 * is left (other work queued meanwhile waits for the next yield, so a job that resubmits itself
 * cannot starve self), then returns.
 * False when self is cancelled (or the scheduler stops): the job should end. */
bool runtime_sched_yield(runtime_job *self);
/* Jobs queued and not started (any thread). */
int runtime_sched_queued(runtime_sched *s);
/* Inference threads the scheduler runs: 1 while started, 0 after stop. */
int runtime_sched_threads(runtime_sched *s);
/* Orderly stop (not from the scheduler thread): queued jobs are cancelled (their done callbacks
 * fire with ran false), the running ones are asked to stop, the thread is joined. Idempotent. */
void runtime_sched_stop(runtime_sched *s);
/* Stops it if needed and frees it. NULL is ignored. */
void runtime_sched_free(runtime_sched *s);

#endif
