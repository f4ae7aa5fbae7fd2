/* lm/chat_template.h - chat templates as named built-ins, rendered
 * exactly as the Hugging Face Jinja templates they stand for, with the byte
 * span of every assistant turn so training can mask the loss to it.
 *
 *   chatml : "<|im_start|>{role}\n{content}<|im_end|>\n" per message;
 *            generation prompt "<|im_start|>assistant\n" (Qwen2/2.5 without
 *            the default system message Qwen2.5's template adds when none is
 *            given; ChatML as in OpenAI's and Qwen's templates).
 *   llama3 : "<|begin_of_text|>" then "<|start_header_id|>{role}<|end_header_id|>\n\n
 *            {content|trim}<|eot_id|>" per message; generation prompt
 *            "<|start_header_id|>assistant<|end_header_id|>\n\n" (Meta-Llama-3-*-Instruct).
 *   llama2 : "<s>[INST] {user|trim} [/INST]" and " {assistant|trim} </s>", the
 *            system message folded into the first user turn as
 *            "<<SYS>>\n{system}\n<</SYS>>\n\n" (Llama-2-*-chat-hf); no generation prompt.
 *   plain  : "{content}\n" per message, no markers (for base models).
 * An assistant span covers its content and the end-of-turn marker that
 * follows it (<|im_end|>, <|eot_id|>, " </s>"), which the model must learn
 * to emit; for plain it covers the content and the newline. */
#ifndef IK_LM_CHAT_TEMPLATE_H
#define IK_LM_CHAT_TEMPLATE_H

#include <stddef.h>

struct ik_buf;
struct ik_diag;
struct ik_tok;

enum ik_chat_template { IK_CHAT_CHATML, IK_CHAT_LLAMA3, IK_CHAT_LLAMA2, IK_CHAT_PLAIN };

struct ik_chat_msg {
    const char *role; /* "system", "user" or "assistant" */
    const char *content;
};

struct ik_chat_span {
    size_t begin, end; /* byte offsets [begin, end) in the rendered text */
};

/* The template called name ("chatml", ...), or IK_EVALIDATE with a hint. */
int ik_chat_template_by_name(const char *name, int *tmpl, struct ik_diag *d);
const char *ik_chat_template_name(int tmpl);

/* Recognises the chat_template of a tokenizer_config.json file: *tmpl is set
 * and 0 returned when it is one of the built-ins' (by their markers), 1 when
 * the file has no recognisable template (the caller falls back to a param),
 * or a negative code when the file cannot be read or parsed. */
int ik_chat_template_detect(const char *tokenizer_config_path, int *tmpl, struct ik_diag *d);

/* The template of the model at model_path, for a chat_template param left
 * to "auto": a folder with tokenizer_config.json gets the built-in its
 * chat_template is (ik_chat_template_detect), or plain when it has none (a
 * base model); a GGUF file the built-in its tokenizer.chat_template is
 * (ik_lm_gguf_chat_template, lm/model_gguf.h); a folder without that file,
 * and any other model file (llama2.c's .bin), get plain. Errors: -errno when model_path cannot be opened, those of
 * reading the JSON, IK_EVALIDATE (with a hint to set chat_template) when its
 * chat_template is none of the built-ins. */
int ik_chat_template_auto(const char *model_path, int *tmpl, struct ik_diag *d);

/* Renders n messages into out (appended). spans (n entries, optional)
 * receive the assistant turns in order; *n_spans their count. With
 * add_generation_prompt the assistant header is appended. IK_EVALIDATE for an
 * unknown role, or (llama2) roles not alternating user/assistant. */
int ik_chat_render(int tmpl, const struct ik_chat_msg *msgs, size_t n, int add_generation_prompt,
                   struct ik_buf *out, struct ik_chat_span *spans, size_t *n_spans, struct ik_diag *d);

/* Renders and tokenizes (special tokens parsed), with mask[i] = 1 for the
 * tokens of assistant spans. Each span is encoded separately from the text
 * around it, so no token straddles a span boundary. *ids and *mask (the
 * caller frees) receive *n entries. */
int ik_chat_encode(int tmpl, const struct ik_tok *t, const struct ik_chat_msg *msgs, size_t n,
                   int **ids, unsigned char **mask, size_t *n_ids, struct ik_diag *d);

#endif
