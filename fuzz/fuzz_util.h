/* fuzz/fuzz_util.h - what the libFuzzer targets of fuzz/ share.
 *
 * Each target (fuzz/fz_<name>.c) feeds one reader of outside bytes. Readers
 * that take a path get the input written to a file in one temporary folder
 * per process (fz_dir, removed at exit), rewritten for every input, so a run
 * of millions of inputs creates no more files than one. Inputs that stand for
 * several files (a model folder: config.json and model.safetensors) are cut
 * into parts at FZ_SEP, a line unlikely in any real file; seeds spell it.
 *
 * msgpack-c preallocates the element count a container header claims (a
 * 5-byte array header can ask for 96 GiB) before it looks at the elements:
 * that is the library's contract, not a bug of the readers, so targets that
 * feed msgpack drop inputs that claim more elements than their bytes could
 * hold (fz_mp_plausible). Everything else the readers must refuse by
 * themselves: a crash, a sanitizer report or an abort is a finding. */
#ifndef IK_FUZZ_FUZZ_UTIL_H
#define IK_FUZZ_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The separator between the parts of a multi-file input. */
#define FZ_SEP "\n--ikada-fuzz-part--\n"

/* The key the cache targets store their record under; seeds made from real
 * records carry it in place of theirs (readers check that a record names the
 * key it is filed under). */
#define FZ_KEY_HEX "abababababababababababababababababababababababababababababababab"

/* Up to this many parts; a longer input's last part holds the rest. */
#define FZ_MAX_PARTS 4

struct fz_part {
    const uint8_t *p;
    size_t n;
};

/* The process's temporary folder (created on the first call, removed at
 * exit). Aborts when it cannot be created: nothing can be fuzzed then. */
const char *fz_dir(void);

/* fz_dir()/rel as a new string (the caller frees). */
char *fz_path(const char *rel);

/* Replaces the file at path by n bytes of data (folders above it must exist).
 * Aborts on an I/O error: the harness, not the reader, failed. */
void fz_write(const char *path, const void *data, size_t n);

/* Writes data to fz_dir()/rel and returns that path (the caller frees). */
char *fz_write_rel(const char *rel, const void *data, size_t n);

/* Writes the parts of data (cut at FZ_SEP) as the files names[0..n) of the
 * folder fz_dir()/rel (created on the first call), a missing part as an
 * empty file, and returns the folder's path (valid until exit). The model
 * and adapter targets call it; names must stay the same for one rel. */
const char *fz_folder(const char *rel, const char *const *names, size_t n, const uint8_t *data,
                      size_t size);

/* Cuts data at every FZ_SEP into at most max parts; returns their number
 * (>= 1; an empty input is one empty part). */
size_t fz_split(const uint8_t *data, size_t n, struct fz_part *parts, size_t max);

/* data as a new NUL-terminated string (the caller frees). */
char *fz_strndup(const void *data, size_t n);

/* False when the msgpack values in data claim, in all their array and map
 * headers together, more elements than data has bytes (every element starts
 * with a byte of its own), so msgpack-c would allocate for elements that
 * cannot be there. Torn values at the end are fine. */
bool fz_mp_plausible(const void *data, size_t n);

/* Cache records end in a checksum, `"sum": bin 32` = SHA-256 of every byte
 * before the 32 (cache/seal.h, where the project has it). When data ends so,
 * returns a copy (the caller frees) whose digest is recomputed, so a mutated
 * record reaches the parser behind the check as a hostile but well-sealed
 * file would; else a plain copy. *n is unchanged. */
uint8_t *fz_reseal(const uint8_t *data, size_t n);

/* The cache every cache target shares: fz_dir()/cache, created on the first
 * call. Aborts when it cannot be opened. */
struct ik_cache;
struct ik_cache *fz_cache(void);

/* The path of the first regular file found below dir (depth first, names in
 * readdir order), or NULL (the caller frees). The cache targets write one
 * real record through the project's writer and then overwrite the file it
 * made, so they follow any change in how records are named. */
char *fz_find_file(const char *dir);

/* fz_find_file of fz_cache()'s folder `area` ("actions", "refs", ...): the
 * file a writer has just made there. Aborts when there is none. */
char *fz_cache_file(const char *area);

/* Loads the tokenizer file at path (lm/tokenizer.h picks the format by its
 * ending) and, when it loads, asks of it what `ikada lm tokenize` and the
 * model nodes do: encode text[0..n) with and without special tokens, decode
 * the result and a run of ids, look pieces up. */
void fz_tokenizer(const char *path, const char *text, size_t n);

/* The whole of a tokenizer target: part 1 of the input is written to
 * fz_dir()/name and loaded with fz_tokenizer; part 2, if any, is the text to
 * encode (else a fixed text of ASCII, Japanese, a combining accent, an emoji
 * and special-token spellings). */
void fz_tokenizer_input(const char *name, const uint8_t *data, size_t size);

/* Formats d's message (which exercises the diagnostic text with hostile
 * names in it) and frees d. */
struct ik_diag;
void fz_diag_done(struct ik_diag *d);

#endif
