#!/usr/bin/env python3
"""Picks a small corpus out of a libFuzzer merge control file.

usage: fuzz_cover.py CONTROL_FILE [MAX]

`<harness> -merge=1 -merge_control_file=CONTROL_FILE OUT IN...` records,
for every input it ran, the coverage edges it reached ("COV <index>
<edges...>"). This prints the paths of a greedy set cover of those edges:
the input adding the most uncovered edges first (the smaller one on a
tie), until every edge any input reached is covered or MAX inputs are
chosen. Uncapped, the set keeps the corpus's edge coverage with fewer
files than -merge=1 keeps (which also keeps an input for each new hit
count); capped, it keeps the inputs that cover the most. scripts/fuzz.sh
uses it for FUZZ_MERGE=1, capped so the committed corpus stays small.
"""
import sys


def main() -> int:
    lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
    count = int(lines[0])
    paths = lines[2:2 + count]
    sizes, cov = {}, {}
    for line in lines[2 + count:]:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "STARTED" and len(parts) >= 3:
            sizes[int(parts[1])] = int(parts[2])
        elif parts[0] == "COV" and len(parts) >= 2:
            cov[int(parts[1])] = set(map(int, parts[2:]))
    cap = int(sys.argv[2]) if len(sys.argv) > 2 else len(paths)
    left = set().union(*cov.values()) if cov else set()
    chosen = []
    while left and len(chosen) < cap:
        best = max(cov, key=lambda i: (len(cov[i] & left), -sizes.get(i, 0)))
        gain = cov[best] & left
        if not gain:
            break
        chosen.append(best)
        left -= gain
    for i in chosen:
        print(paths[i])
    return 0


if __name__ == "__main__":
    sys.exit(main())
