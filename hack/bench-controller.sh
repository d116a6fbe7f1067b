#!/usr/bin/env bash
# The controller at scale: N GitCommits (default 1000), each exporting M ConfigMaps (default 5),
# against the real apiserver and git daemon; compared with the floor (creating the objects and
# applying their status with no operator) in the same run. Release build. Flags after the two
# numbers go to the controller; GCO_BENCH_* variables shape the run (docs/performance.md).
exec "$(dirname "$0")/bench-release.sh" bench-controller "$@"
