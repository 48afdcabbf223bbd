#!/bin/sh
# Each module's door library (what the hearth binary links) exports only names with the module's
# prefix: private functions are local to it, so no other module can call them. C++ linkage
# symbols of index/'s FAISS compat unit (_Z*, DW.ref.*) are shared with libfaiss and exempt.
# usage: check_doors.sh NM LIB:PREFIX...
nm_bin=$1
shift
status=0
for pair in "$@"; do
    lib=${pair%%:*}
    prefix=${pair#*:}
    names=$("$nm_bin" -g --defined-only "$lib" | awk 'NF == 3 { print $3 }')
    if [ -z "$names" ]; then
        echo "$lib: exports nothing (not a door library?)"
        status=1
        continue
    fi
    bad=$(printf '%s\n' "$names" | grep -v -e "^$prefix" -e '^_Z' -e '^DW\.ref\.' || true)
    if [ -n "$bad" ]; then
        echo "$lib: exports names without the prefix $prefix:"
        printf '  %s\n' $bad
        status=1
    else
        echo "$lib: $(printf '%s\n' "$names" | grep -c "^$prefix") names, all $prefix*"
    fi
done
exit $status
