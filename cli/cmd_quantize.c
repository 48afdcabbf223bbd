/* hearth quantize: a float GGUF to any tensor type or mix (*_K_M, MXFP4_MOE). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_quantize(int argc, char **argv) {
    if (argc != 4 || argv[1][0] == '-') {
        fprintf(stderr,
                "usage: hearth quantize IN.gguf OUT.gguf TYPE\n"
                "  TYPE: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K MXFP4\n"
                "        Q4_K_M Q5_K_M (mixes: Q6_K for the output and some attn_v/ffn_down)\n"
                "        MXFP4_MOE (mix: MXFP4 for MoE expert tensors, Q8_0 for the rest)\n");
        return 2;
    }
    char err[ENGINE_ERR_LEN];
    if (!engine_quantize(argv[1], argv[2], argv[3], err, sizeof err))
        return cli_error(argv[1], "%s", err);
    fprintf(stderr, "hearth: wrote %s (%s)\n", argv[2], argv[3]);
    return 0;
}
