#!/bin/sh
# mkman.sh QUIRE — writes the quire(1) man page (roff) to stdout, generated from the
# binary's own help: `quire --help` and `quire CMD --help` for every command it lists.
# The man page and --help therefore cannot drift apart (make man; tests/cli/install.sh).
set -eu
q=$1
# roff-escape a block of text for a no-fill section: backslashes, leading dots/quotes.
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
commands=$("$q" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
version=$("$q" --version | awk '{ print $2 }')
cat <<ROFF
.TH QUIRE 1 "" "quire $version" "User Commands"
.SH NAME
quire \\- local, offline document AI: conversion, embeddings, collections and search
.SH SYNOPSIS
.B quire
.I command
[\\fIoptions\\fR] [\\fIargs\\fR]
.SH DESCRIPTION
.nf
ROFF
"$q" --help | esc
echo ".fi"
echo ".SH COMMANDS"
for c in $commands; do
    echo ".SS quire $c"
    echo ".nf"
    "$q" "$c" --help | esc
    echo ".fi"
done
cat <<'ROFF'
.SH EXIT STATUS
0 success, 1 failure, 2 usage error, 3 partial failure (some files or pages failed; the
others were written).
.SH FILES
Model folders are Hugging Face sentence-transformers layouts (config.json,
model.safetensors, tokenizer files). Stores are SQLite files.
.SH SEE ALSO
The README.md of the source tree is the full manual.
ROFF
