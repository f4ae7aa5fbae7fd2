/* lm/modelfile.h - the Ollama Modelfile that registers a base GGUF with a
 * LoRA adapter GGUF (`ollama create NAME -f Modelfile`), with the prompt
 * template and stop strings of the chat template the adapter was trained with.
 *
 * The text (Ollama's parser/parser.go reads it):
 *   FROM <from>
 *   ADAPTER <adapter>                   (when there is one)
 *   TEMPLATE """<Go template>"""
 *   PARAMETER stop "<marker>"           (one line per stop string)
 * Paths are written as given (Ollama resolves a relative one against the
 * Modelfile's folder). The TEMPLATE is Go text/template over Ollama's
 * .Messages (system messages included, .System their text joined) and renders
 * the same text as ik_chat_render(..., add_generation_prompt = 1) (lm/
 * chat_template.h), except:
 *   - the BOS that opens llama3 and llama2 ("<|begin_of_text|>", "<s>") is
 *     left to the runner, which adds it as the GGUF's add_bos_token says
 *     (ik_chat_render writes it as text, which tokenizes to the same id);
 *   - contents are not trimmed (Go templates have no trim; HF's llama3 and
 *     llama2 templates strip each message), so a message with leading or
 *     trailing whitespace keeps it.
 * Stop strings: each template's end-of-turn marker and the markers that open
 * a new turn (as Ollama's own chatml/llama3/llama2 templates list them), then
 * the caller's extra ones (e.g. the EOS pieces) that are not already listed.
 * plain has no markers. */
#ifndef IK_LM_MODELFILE_H
#define IK_LM_MODELFILE_H

#include <stddef.h>

struct ik_buf;
struct ik_diag;

struct ik_modelfile {
    const char *from;          /* FROM: a base GGUF path or an Ollama model name */
    const char *adapter;       /* ADAPTER: an adapter GGUF path, or NULL */
    int chat_template;         /* enum ik_chat_template */
    const char *const *stops;  /* extra stop strings (n_stops of them), or NULL */
    size_t n_stops;
};

/* The Go template for a built-in chat template (static storage). */
const char *ik_modelfile_template(int chat_template);

/* The template's own stop strings: *n of them (static storage). */
const char *const *ik_modelfile_stops(int chat_template, size_t *n);

/* Appends the Modelfile to out. IK_EVALIDATE naming the field when from is
 * empty, a path has a line break or surrounding spaces, or a stop string is
 * empty or cannot be quoted (a line break with a '"' at either end, or '"""');
 * out is unchanged then. */
int ik_modelfile_write(struct ik_buf *out, const struct ik_modelfile *mf, struct ik_diag *d);

#endif
