#!/bin/sh
# Symbol hygiene of the module libraries, by nm.
# - A module's door library (what the hearth binary links) exports only names with the module's
#   prefix — those its header declares (CMakeLists.txt hearth_module): private functions are
#   local to it, so no other module can call them.
# - A module's private library (all its objects) defines no global name without the module's
#   prefix; engine/ names its private pieces by their file (gguf_, quant_, attn_, ...), listed.
# C++ linkage symbols of index/'s FAISS compat unit (_Z*, DW.ref.*) and the FAISS C API it
# implements (faiss_*) are exempt, as are compiler-made names (__odr_asan.* under ASan).
# usage: check_doors.sh NM LIB:PREFIX[,PREFIX...]...
nm_bin=$1
shift
status=0
for pair in "$@"; do
    lib=${pair%%:*}
    prefixes=$(printf '%s' "${pair#*:}" | tr ',' ' ')
    names=$("$nm_bin" -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' |
        grep -v -e '^_Z' -e '^DW\.ref\.' -e '^faiss_' -e '^__' | sort -u)
    if [ -z "$names" ]; then
        echo "$lib: defines nothing global"
        status=1
        continue
    fi
    bad=$names
    for p in $prefixes; do bad=$(printf '%s\n' "$bad" | grep -v "^$p" || true); done
    if [ -n "$bad" ]; then
        echo "$lib: global names without a prefix of $prefixes:"
        printf '  %s\n' $bad
        status=1
    else
        echo "$lib: $(printf '%s\n' "$names" | wc -l) global names, all prefixed ($prefixes)"
    fi
done
exit $status
