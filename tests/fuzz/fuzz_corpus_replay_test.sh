#!/bin/bash
# Every fuzz target on its seed corpus (committed seeds for the IR parser
# and the command line, made seeds for the artifact and checkpoint
# readers): no input may crash a reader or throw anything but an Error.
set -eu
reforge="$1" ir="$2" command_line="$3" artifact="$4" checkpoint="$5"
here="$(dirname "$0")"
made="${TEST_TMPDIR:-$(mktemp -d)}/seeds"
"$here/make_seeds.sh" "$reforge" "$made"
"$ir" "$here"/corpus/ir/*
"$command_line" "$here"/corpus/command_line/*
"$artifact" "$made"/artifact/*
"$checkpoint" "$made"/checkpoint/*
