#!/bin/sh
# Regenerates configure and Makefile.in; fails loudly if autotools are missing.
set -e
cd "$(dirname "$0")"
autoreconf -fi
