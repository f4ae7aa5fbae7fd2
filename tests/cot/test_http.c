/* tests/cot/test_http.c - batch.c + http.c against the fake API: the three
 * API shapes, the response cache, every retry path (429 with retry-after,
 * 500, 529, truncated and non-JSON bodies, dropped connections, timeouts),
 * 401 stopping at once with the key redacted, the spend cap, and citation
 * reminders with each on_invalid. */
#include <time.h>
#include <uv.h>

#include "base/error.h"
#include "engine/exec.h"
#include "tests/common/tmpcache.h"
#include "tests/cot/helpers.h"

#define KEY "sk-test-SECRET-0123456789"

static struct ik_node_ctx *node; /* the store side of a node context, over T.c */
static struct fake F;
static char url[128];

static void setup(void)
{
    tc_setup();
    node = ik_exec_store_ctx_new(T.c);
}

static void teardown(void)
{
    ik_exec_store_ctx_free(node);
    node = NULL;
    tc_teardown();
}

TestSuite(cot_http, .init = setup, .fini = teardown, .timeout = 20);

static void config(struct ik_cot_config *c, const struct ik_cot_provider *p, const char **args)
{
    fake_start(&F, args);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", F.port, p->path);
    memset(c, 0, sizeof *c);
    c->provider_name = p->name;
    c->provider = p;
    c->sampling = (struct ik_cot_sampling){"fake-model", 512, -1};
    c->url = url;
    c->api_key = KEY;
    c->prompt = ik_cot_prompt_default;
    c->reminder = ik_cot_reminder_default;
    c->doc_label = "参考文書";
    c->http = (struct ik_http_opts){4, 0, 5000, 3, 0.01, 0.05, 1, 1 << 20};
    c->validate_retries = 1;
    c->on_invalid = IK_COT_DROP;
    c->min_quote_chars = 5;
    ik_cot_budget_init(&c->budget, 0, NULL);
    c->node = node;
}

static struct ik_cot_item *items(size_t n)
{
    static const char *const qs[] = {"住宅ローン控除の手続きは?", "二年目は?", "必要書類は?",
                                      "いつ提出?", "どこに?", "誰が?", "何を?", "なぜ?",
                                      "どうやって?", "いくら?"};
    struct ik_cot_item *it = ik_xcalloc(n, sizeof *it);
    for (size_t i = 0; i < n; i++)
        t_item(&it[i], qs[i % 10]);
    return it;
}

struct counts {
    unsigned answered, received, max_answered, distinct;
};

static struct counts stop_fake(void)
{
    struct counts c;
    fake_stop(&F, &c.answered, &c.received, &c.max_answered, &c.distinct);
    return c;
}

static int run(struct ik_cot_config *c, struct ik_cot_item *it, size_t n, struct ik_cot_stats *st,
               struct ik_diag *d)
{
    return ik_cot_batch_run(c, it, n, st, d);
}

Test(cot_http, anthropic_answers_once_then_from_cache)
{
    struct ik_cot_config c;
    config(&c, &ik_cot_provider_anthropic, NULL);
    struct ik_cot_item *it = items(5);
    struct ik_cot_stats st;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(run(&c, it, 5, &st, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(st.requests, 5);
    cr_assert_eq(st.from_cache, 0);
    for (int i = 0; i < 5; i++) {
        cr_assert(it[i].valid, "item %d: %s", i, it[i].answer ? it[i].answer : "(none)");
        cr_assert(strstr(it[i].answer, "参考文書2に「"));
    }
    cr_assert_gt(st.tokens_in, 0);
    cr_assert_eq(st.tokens_out, 500);
    ik_cot_items_free(it, 5);
    /* a second run on the same cache sends nothing */
    it = items(5);
    ik_cot_budget_init(&c.budget, 0, NULL);
    cr_assert_eq(run(&c, it, 5, &st, &d), 0);
    cr_assert_eq(st.requests, 0);
    cr_assert_eq(st.from_cache, 5);
    cr_assert_eq(st.tokens_out, 500);
    ik_cot_items_free(it, 5);
    struct counts k = stop_fake();
    cr_assert_eq(k.received, 5);
    cr_assert_eq(k.max_answered, 1);
}

Test(cot_http, openai_shape)
{
    struct ik_cot_config c;
    config(&c, &ik_cot_provider_openai, NULL);
    struct ik_cot_item *it = items(2);
    struct ik_cot_stats st;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(run(&c, it, 2, &st, &d), 0, "%s", ik_diag_message(&d));
    cr_assert(it[0].valid && it[1].valid);
    cr_assert_eq(st.tokens_out, 200);
    ik_cot_items_free(it, 2);
    stop_fake();
}

Test(cot_http, ollama_shape_and_think_removed)
{
    struct ik_cot_config c;
    const char *args[] = {"--think", NULL};
    config(&c, &ik_cot_provider_ollama, args);
    c.api_key = NULL;
    struct ik_cot_item *it = items(2);
    struct ik_cot_stats st;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(run(&c, it, 2, &st, &d), 0, "%s", ik_diag_message(&d));
    cr_assert(it[0].valid);
    cr_assert_null(strstr(it[0].answer, "think"));
    cr_assert(strncmp(it[0].answer, "参考文書2", strlen("参考文書2")) == 0);
    ik_cot_items_free(it, 2);
    stop_fake();
}

Test(cot_http, retry_after_on_429)
{
    struct ik_cot_config c;
    const char *args[] = {"--script", "429,429", NULL};
    config(&c, &ik_cot_provider_anthropic, args);
    c.http.backoff_s = c.http.backoff_max_s = 2; /* retry-after-ms (50) must win */
    struct ik_cot_item *it = items(1);
    struct ik_cot_stats st;
    struct ik_diag d = IK_DIAG_INIT;
    uint64_t t0 = uv_hrtime();
    cr_assert_eq(run(&c, it, 1, &st, &d), 0, "%s", ik_diag_message(&d));
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    cr_assert(ms >= 100 && ms < 1500, "took %.0f ms", ms);
    cr_assert_eq(st.retries, 2);
    cr_assert_eq(st.failures[IK_COT_F_429], 2);
    cr_assert_eq(st.requests, 1);
    cr_assert(it[0].valid);
    ik_cot_items_free(it, 1);
    struct counts k = stop_fake();
    cr_assert_eq(k.received, 3);
    cr_assert_eq(k.answered, 1);
}

Test(cot_http, retries_on_500_529_bad_bodies_and_drops)
{
    struct ik_cot_config c;
    const char *args[] = {"--script", "500,529,trunc,nonjson,drop", NULL};
    config(&c, &ik_cot_provider_anthropic, args);
    c.http.concurrency = 1;
    c.http.max_retries = 5;
    struct ik_cot_item *it = items(1);
    struct ik_cot_stats st;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(run(&c, it, 1, &st, &d), 0, "%s", ik_diag_message(&d));
    cr_assert(it[0].valid);
    cr_assert_eq(st.failures[IK_COT_F_5XX], 1);
    cr_assert_eq(st.failures[IK_COT_F_529], 1);
    cr_assert_eq(st.failures[IK_COT_F_BAD_BODY], 2);
    cr_assert_eq(st.failures[IK_COT_F_NETWORK], 1);
    cr_assert_eq(st.retries, 5);
    ik_cot_items_free(it, 1);
    stop_fake();
}

Test(cot_http, failure_after_every_retry)
{
    struct ik_cot_config c;
    const char *args[] = {"--default", "500", NULL};
    config(&c, &ik_cot_provider_openai, args);
    c.http.max_retries = 2;
    struct ik_cot_item *it = items(2);
    struct ik_cot_stats st;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(run(&c, it, 2, &st, &d), IK_EHTTP);
    cr_assert(strstr(ik_diag_message(&d), "2 request(s) failed after 2 retries"), "%s",
              ik_diag_message(&d));
    cr_assert(strstr(ik_diag_message(&d), "HTTP 500: fake failure"), "%s", ik_diag_message(&d));
    cr_assert_eq(st.failures[IK_COT_F_5XX], 6);
    ik_diag_free(&d);
    ik_cot_items_free(it, 2);
    stop_fake();
}

Test(cot_http, timeout_is_a_retryable_failure)
{
    struct ik_cot_config c;
    const char *args[] = {"--latency-ms", "3000", NULL};
    config(&c, &ik_cot_provider_anthropic, args);
    c.http.timeout_ms = 200;
    c.http.max_retries = 1;
    struct ik_cot_item *it = items(1);
    struct ik_cot_stats st;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(run(&c, it, 1, &st, &d), IK_EHTTP);
    cr_assert_eq(st.failures[IK_COT_F_TIMEOUT], 2);
    cr_assert(strstr(ik_diag_message(&d), "imeout") || strstr(ik_diag_message(&d), "timed out"),
              "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    ik_cot_items_free(it, 1);
    stop_fake();
}

Test(cot_http, unauthorized_stops_at_once_and_hides_the_key)
{
    struct ik_cot_config c;
    const char *args[] = {"--default", "401", "--latency-ms", "20", NULL};
    config(&c, &ik_cot_provider_anthropic, args);
    c.http.concurrency = 1;
    struct ik_cot_item *it = items(6);
    struct ik_cot_stats st;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(run(&c, it, 6, &st, &d), IK_EHTTP);
    const char *m = ik_diag_message(&d);
    cr_assert(strstr(m, "provider anthropic: HTTP 401: invalid x-api-key: ***"), "%s", m);
    cr_assert_null(strstr(m, KEY));
    cr_assert_eq(st.requests, 1);
    cr_assert_eq(st.retries, 0);
    cr_assert_eq(st.failures[IK_COT_F_4XX], 1);
    ik_diag_free(&d);
    ik_cot_items_free(it, 6);
    struct counts k = stop_fake();
    cr_assert_eq(k.received, 1);
}

Test(cot_http, spend_cap_stops_before_the_cap)
{
    struct ik_cot_config c;
    const char *args[] = {"--usage-out", "100", NULL};
    config(&c, &ik_cot_provider_anthropic, args);
    c.http.concurrency = 2;
    struct ik_cot_price p = {1.0, 5.0};
    ik_cot_budget_init(&c.budget, 0.004, &p);
    struct ik_cot_item *it = items(10);
    struct ik_cot_stats st;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(run(&c, it, 10, &st, &d), IK_ECANCELED);
    const char *m = ik_diag_message(&d);
    cr_assert(strstr(m, "max_usd 0.0040 reached"), "%s", m);
    cr_assert(strstr(m, "stopped before the cap"), "%s", m);
    cr_assert_gt(st.requests, 0);
    cr_assert_lt(st.requests, 10);
    cr_assert_leq(st.usd, 0.004);
    cr_assert_gt(st.usd, 0);
    ik_diag_free(&d);
    ik_cot_items_free(it, 10);
    struct counts k = stop_fake();
    cr_assert_eq(k.received, st.requests);
}

Test(cot_http, reminder_fixes_the_citation)
{
    struct ik_cot_config c;
    const char *args[] = {"--answer", "fixonretry", NULL};
    config(&c, &ik_cot_provider_anthropic, args);
    struct ik_cot_item *it = items(3);
    struct ik_cot_stats st;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(run(&c, it, 3, &st, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(st.requests, 6);
    cr_assert_eq(st.invalid_answers, 3);
    cr_assert_eq(st.invalid_by_cause[IK_CITE_QUOTE_NOT_FOUND], 3);
    cr_assert_eq(st.invalid_samples, 0);
    for (int i = 0; i < 3; i++)
        cr_assert(it[i].valid);
    ik_cot_items_free(it, 3);
    /* the reminder requests are cached too */
    it = items(3);
    cr_assert_eq(run(&c, it, 3, &st, &d), 0);
    cr_assert_eq(st.requests, 0);
    cr_assert_eq(st.from_cache, 6);
    ik_cot_items_free(it, 3);
    struct counts k = stop_fake();
    cr_assert_eq(k.received, 6);
    cr_assert_eq(k.distinct, 6);
}

static void invalid_with(enum ik_cot_on_invalid how, const char *answer, int want_rc)
{
    struct ik_cot_config c;
    const char *args[] = {"--answer", answer, NULL};
    config(&c, &ik_cot_provider_anthropic, args);
    c.on_invalid = how;
    c.validate_retries = 2;
    c.http.concurrency = 1;
    struct ik_cot_item *it = items(2);
    struct ik_cot_stats st;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(run(&c, it, 2, &st, &d), want_rc, "%s", ik_diag_message(&d));
    if (how == IK_COT_DROP) {
        cr_assert_eq(st.requests, 6);
        cr_assert_eq(st.dropped, 2);
        cr_assert(it[0].dropped && it[0].answer == NULL);
    } else if (how == IK_COT_KEEP) {
        cr_assert_eq(st.kept_invalid, 2);
        cr_assert_not_null(it[1].answer);
        cr_assert_not(it[1].valid);
    } else {
        cr_assert(strstr(ik_diag_message(&d), "citation is invalid"), "%s", ik_diag_message(&d));
        cr_assert_eq(st.requests, 3, "requests %zu", st.requests); /* the first sample's 3 tries, then no more */
    }
    ik_diag_free(&d);
    ik_cot_items_free(it, 2);
    stop_fake();
}

Test(cot_http, invalid_then_drop) { invalid_with(IK_COT_DROP, "badquote", 0); }
Test(cot_http, invalid_then_keep) { invalid_with(IK_COT_KEEP, "wrongnum", 0); }
Test(cot_http, invalid_then_fail) { invalid_with(IK_COT_FAIL, "noquote", IK_EVALIDATE); }
