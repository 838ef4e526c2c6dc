#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The A/B benchmark lives in tests/bench/bench-ab.sh with the other benchmarks; this
# path stays because `espx bench ab` runs <tree>/scripts/bench-ab.sh and users know it.
exec "$(dirname "$0")/../tests/bench/bench-ab.sh" "$@"
