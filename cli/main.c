/* hearth: one binary, subcommands. Each subcommand lives in its own cmd_*.c file. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "options.h"

#ifndef HEARTH_VERSION
#define HEARTH_VERSION "unknown"
#endif

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} COMMANDS[] = {
    {"run", cmd_run, "generate text from a prompt"},
    {"tokenize", cmd_tokenize, "print the token ids of a text"},
    {"logits", cmd_logits, "evaluate a prompt and print per-position logits as JSON"},
    {"bench", cmd_bench, "measure prefill and decode speed (tokens/s)"},
    {"chat", cmd_chat, "chat with a model (one-shot with -p, else interactive)"},
    {"embed", cmd_embed, "print L2-normalised embeddings of texts"},
    {"info", cmd_info, "describe a model file and the memory it needs"},
    {"perplexity", cmd_perplexity, "perplexity of a text; KL divergence to a base model"},
    {"quantize", cmd_quantize, "convert a float model to a quantized tensor type or mix"},
    {"synth", cmd_synth, "write a random-weight model with the shapes of a public model"},
    {"index", cmd_index, "index a repository for search (walk, chunk, embed, store)"},
    {"search", cmd_search, "search the repository index (lexical, vector or hybrid)"},
    {"ask", cmd_ask, "answer a question about the repository from its index"},
    {"lsp", cmd_lsp, "serve the Language Server Protocol on stdin/stdout (completion)"},
    {"serve", cmd_serve, "serve the OpenAI-compatible HTTP API (continuous batching)"},
    {"pull", cmd_pull, "download a model (catalogue name or URL) with resume and sha256"},
    {"list", cmd_list, "list the installed models"},
    {"rm", cmd_rm, "remove an installed model"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: hearth <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f, "\n'hearth <command> --help' or 'hearth help <command>' describes a command's "
               "options;\n'hearth --version' prints the version.\n");
}

/* An unknown command: the nearest known one when there is one ("did you mean `run`?"). */
static int unknown_command(const char *typed) {
    const char *best = NULL;
    int best_d = 99;
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        int d = cli_distance(typed, COMMANDS[i].name);
        if (cli_near(typed, COMMANDS[i].name) && d < best_d) best = COMMANDS[i].name, best_d = d;
    }
    if (best)
        cli_error(typed, "unknown command; did you mean `%s`? (see 'hearth --help')", best);
    else
        cli_error(typed, "unknown command (see 'hearth --help')");
    return 2;
}

int main(int argc, char **argv) {
    /* A write past `ulimit -f` must fail with EFBIG, which every writer (SQLite, FAISS, GGUF,
     * downloads) reports, not kill the process without a word. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "help") && argc == 3) { /* hearth help CMD = hearth CMD --help */
        char *args[] = {argv[2], "--help", NULL};
        for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
            if (!strcmp(argv[2], COMMANDS[i].name)) return COMMANDS[i].fn(2, args);
        return unknown_command(argv[2]);
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version")) {
        printf("hearth %s (%s kernels)\n", HEARTH_VERSION, engine_simd_name());
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].fn(argc - 1, argv + 1);
    return unknown_command(argv[1]);
}
