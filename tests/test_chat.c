/* Chat prompts per template family and the <think> filter.
 * usage: test_chat STORIES.gguf QWEN25_VOCAB_MODEL.gguf */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "test.h"

static void check_prompt(const engine_model *m, const char *tpl, bool think, const char *want) {
    engine_chat_message msgs[] = {
        {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Sum?"}};
    char err[ENGINE_ERR_LEN];
    char *got = engine_chat_prompt(m, tpl, msgs, 4, think, err, sizeof err);
    CHECKF(got && !strcmp(got, want), "%s: got '%s'", tpl ? tpl : "auto", got ? got : err);
    free(got);
}

static void test_chat_templates(const engine_model *stories, const engine_model *qwen) {
    check_prompt(stories, "chatml", false,
                 "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                 "<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nSum?<|im_end|>\n"
                 "<|im_start|>assistant\n");
    check_prompt(stories, "qwen3", false,
                 "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                 "<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nSum?<|im_end|>\n"
                 "<|im_start|>assistant\n<think>\n\n</think>\n\n");
    check_prompt(stories, "llama3", false,
                 "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nSum?<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n");
    char err[ENGINE_ERR_LEN];
    engine_chat_message one = {"user", "x"};
    char *p = engine_chat_prompt(stories, NULL, &one, 1, false, err, sizeof err);
    CHECKF(!p && strstr(err, "--template"), "a model without a template must say how to name one");
    free(p);
    p = engine_chat_prompt(stories, "vicuna", &one, 1, false, err, sizeof err);
    CHECKF(!p && strstr(err, "unknown chat template 'vicuna'"), "%s", err);
    free(p);
    CHECK(engine_chat_template(stories) == NULL);
    const char *t = engine_chat_template(qwen);
    CHECKF(t && !strcmp(t, "chatml"), "qwen2.5 template detected as %s", t ? t : "none");
    /* Qwen2.5's template adds its default system prompt when the conversation has none */
    p = engine_chat_prompt(qwen, NULL, &one, 1, false, err, sizeof err);
    CHECK(p && !strncmp(p, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud.", 56));
    free(p);
}

static void filter_in_pieces(const char *in, size_t piece, const char *want) {
    engine_think_filter f = {0};
    char out[512];
    size_t o = 0, n = strlen(in);
    for (size_t i = 0; i < n; i += piece)
        o += engine_think_filter_push(&f, in + i, i + piece <= n ? piece : n - i, out + o);
    o += engine_think_filter_flush(&f, out + o);
    out[o] = 0;
    CHECKF(!strcmp(out, want), "'%s' in pieces of %zu gave '%s', want '%s'", in, piece, out, want);
}

static void test_think_filter_hides_blocks(void) {
    for (size_t piece = 1; piece <= 9; piece++) {
        filter_in_pieces("<think>\nplan it\n</think>\n\nHello <b>x</b>", piece, "Hello <b>x</b>");
        filter_in_pieces("no thoughts < here", piece, "no thoughts < here");
        filter_in_pieces("<<think>x</think>y", piece, "<y");
        filter_in_pieces("a<thin", piece, "a<thin");
        filter_in_pieces("<think>never closed", piece, "");
    }
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    char err[ENGINE_ERR_LEN];
    engine_model *stories = engine_model_load(argv[1], err, sizeof err);
    engine_model *qwen = engine_model_load(argv[2], err, sizeof err);
    CHECKF(stories && qwen, "%s", err);
    if (stories && qwen) test_chat_templates(stories, qwen);
    test_think_filter_hides_blocks();
    engine_model_free(stories);
    engine_model_free(qwen);
    return test_summary("test_chat");
}
