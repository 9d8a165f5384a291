#!/bin/sh
# The example application of examples/Dockerfile's Alpine and Debian stages: a batch
# report that talks to the network through the mesh's proxy, then exits. Replace it with
# your program; proa runs whatever CMD names.
set -eu
since="${1:---since=24h}"
echo "report ${since#--since=}: generated at $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
