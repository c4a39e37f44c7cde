/*
 * main.c — `quire` entry point: dispatches to one subcommand per file.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char *cli_prog = "quire";

static const cli_cmd commands[] = {
    {"convert", "PDFs and page images to Markdown / JSON / text (text layer or OCR)",
     cmd_convert},
    {"ingest", "convert, chunk, embed and store documents in a collection", cmd_ingest},
    {"search", "hybrid (BM25 + vector) search of a collection, with citations", cmd_search},
    {"collections", "list the collections of a store", cmd_collections},
    {"docs", "list (or remove) the documents of a collection", cmd_docs},
    {"export", "write collections (documents, metadata, chunks, vectors) as JSON lines",
     cmd_export},
    {"import", "read an export into new or empty collections (one transaction)", cmd_import},
    {"reindex", "re-embed a collection with another model, swapped in atomically",
     cmd_reindex},
    {"enqueue", "queue documents in PostgreSQL for quire workers (scale-out)", cmd_enqueue},
    {"worker", "claim queued documents from PostgreSQL and ingest them there", cmd_worker},
    {"status", "the PostgreSQL queue: jobs by state, workers, throughput, errors", cmd_status},
    {"migrate", "copy a whole store SQLite -> PostgreSQL or back, checksums compared",
     cmd_migrate},
    {"serve", "OpenAI-compatible embeddings, search and conversion over HTTP", cmd_serve},
    {"mcp", "Model Context Protocol server on stdio: search/ingest/convert tools for agents",
     cmd_mcp},
    {"embed", "compute sentence embeddings with a Hugging Face BERT model folder", cmd_embed},
    {"tokenize", "print WordPiece token ids of each input line", cmd_tokenize},
    {"validate", "check a gamebook export: missing targets, unreachable, duplicates, dead ends",
     cmd_validate},
    {"info", "print version, CPU features and the kernels in use", cmd_info},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: quire <command> [options] [args]\n"
            "\n"
            "quire %s — local, offline document AI: embeddings, conversion, search.\n"
            "\n"
            "commands:\n",
            quire_version_str());
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "Run `quire <command> --help` for a command's options.\n"
            "Exit status: 0 ok, 1 failure, 2 usage error, 3 partial failure.\n"
            "Environment: QUIRE_CPU=scalar|avx2|avx512|neon|neon-dotprod forces a kernel set.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("quire %s\n", quire_version_str());
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "quire: unknown command '%s' (see quire --help)\n", name);
    return EXIT_USAGE;
}
