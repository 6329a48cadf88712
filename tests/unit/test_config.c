/* SPDX-License-Identifier: MIT */
/*
 * test_config.c - the config loader: defaults, diagnostics, includes, lists.
 *
 * What an admin relies on: the shipped file and the built-in defaults are
 * the same settings; `config-test` names every problem of a file as
 * "file:line: message" with the line that holds it, all of them in one
 * run; list files are found next to the config file; bad lines in a list
 * are warnings, a missing list is an error. Every file is written under a
 * mkdtemp directory that is removed at the end.
 */
#include "unit.h"

#include "config.h"
#include "engine.h"
#include "fcgi_config.h"
#include "milter_config.h"
#include "store.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static char tmpdir[256];

/* rm_entry - nftw callback for rm -r */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "%s/mv-config-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* write_file - tmpdir/name holds len bytes of text; its path in out */
static void write_file(const char *name, const char *text, size_t len, char *out, size_t outsize)
{
    FILE *f;

    snprintf(out, outsize, "%s/%s", tmpdir, name);
    f = fopen(out, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* write_str - tmpdir/name holds the C string text */
static void write_str(const char *name, const char *text, char *out, size_t outsize)
{
    write_file(name, text, strlen(text), out, outsize);
}

/* print_diag - show every diagnostic, to explain a failure */
static void print_diag(const mv_diag *d)
{
    for (size_t i = 0; i < d->count; i++)
        print_error("  %s: %s\n", d->items[i].level == MV_DIAG_ERROR ? "error" : "warning", d->items[i].text);
}

/* find_diag - an item "file:line: ...substr..." of this level, or NULL */
static const mv_diag_item *find_diag(const mv_diag *d, mv_diag_level lvl, const char *file, int line,
                                     const char *substr)
{
    char prefix[512];

    if (line > 0)
        snprintf(prefix, sizeof(prefix), "%s:%d: ", file, line);
    else
        snprintf(prefix, sizeof(prefix), "%s: ", file);
    for (size_t i = 0; i < d->count; i++)
        if (d->items[i].level == lvl && strncmp(d->items[i].text, prefix, strlen(prefix)) == 0 &&
            strstr(d->items[i].text + strlen(prefix), substr) != NULL)
            return &d->items[i];
    return NULL;
}

/* dump - mv_config_dump as a malloc'd string */
static char *dump(const mv_config *cfg)
{
    mv_buf b = {0};
    char *s;

    mv_config_dump(cfg, &b);
    assert_true(mv_buf_ok(&b));
    assert_non_null(b.data);
    s = strdup(b.data);
    mv_buf_free(&b);
    return s;
}

/* Every program's table, as `mailverify config-test` loads them. */
static const mv_config_table *const all_tables[] = {&mv_milter_config_table, &mv_metrics_config_table,
                                                    &mv_fcgi_config_table, NULL};

/* load_all - a file as config-test loads it: every table, all there are */
static mv_config *load_all(const char *path, int flags, mv_diag *d)
{
    return mv_config_load_with(path, all_tables, flags | MV_CONFIG_ALL_TABLES, d);
}

/* load_text_all - the same from text */
static mv_config *load_text_all(const char *text, size_t len, const char *name, const char *dir, int flags,
                                mv_diag *d)
{
    return mv_config_load_text_with(text, len, name, dir, all_tables, flags | MV_CONFIG_ALL_TABLES, d);
}

/* load_str - write text to tmpdir/name and load it as a file */
static mv_config *load_str(const char *name, const char *text, int flags, mv_diag *d, char *path,
                           size_t pathsize)
{
    write_str(name, text, path, pathsize);
    return load_all(path, flags, d);
}

/* -- defaults ------------------------------------------------------------ */

static void test_builtin_loads_clean(void **state)
{
    mv_diag d = {0};
    mv_config *cfg;

    (void)state;
    cfg = load_all(NULL, 0, &d);
    if (cfg == NULL || d.count != 0 || d.errors != 0 || d.warnings != 0) {
        print_diag(&d);
        fail_msg("built-in config: %zu errors, %zu warnings", d.errors, d.warnings);
    }
    assert_string_equal(mv_config_source(cfg), "(built-in)");
    assert_true(mv_config_settings(cfg)->typo_enabled);
    assert_string_equal(mv_config_settings(cfg)->lists_disposable, "builtin");
    assert_true(mv_lists_count(mv_config_lists(cfg), MV_LIST_DISPOSABLE) > 100000);
    assert_true(mv_typo_count(mv_config_typo(cfg)) > 50);
    assert_int_equal(mv_canon_count(mv_config_canon(cfg)), 6);
    mv_config_unref(cfg);
    mv_diag_clear(&d);
}

/* The shipped file, the C defaults and an empty file are one set of settings. */
static void test_shipped_file_equals_defaults(void **state)
{
    mv_diag d = {0};
    mv_config *builtin, *disk, *empty, *changed;
    char path[512], *a, *b, *c, *x;

    (void)state;
    builtin = load_all(NULL, 0, &d);
    disk = load_all("etc/mailverify.conf", 0, &d);
    empty = load_str("empty.conf", "", 0, &d, path, sizeof(path));
    changed = load_str("changed.conf", "policy = { recipient = { disposable = \"warn\"; }; };\n", 0, &d, path,
                       sizeof(path));
    if (builtin == NULL || disk == NULL || empty == NULL || changed == NULL || d.count != 0) {
        print_diag(&d);
        fail_msg("a load failed or warned (%zu diagnostics)", d.count);
    }
    assert_string_equal(mv_config_source(disk), "etc/mailverify.conf");
    a = dump(builtin);
    b = dump(disk);
    c = dump(empty);
    x = dump(changed);
    assert_non_null(strstr(a, "policy.form.disposable = \"block\"\n"));
    assert_non_null(strstr(a, "canonical = 6 rules\n"));
    assert_string_equal(a, b);
    assert_string_equal(a, c);
    /* the comparison can see a change of one setting */
    assert_string_not_equal(a, x);
    assert_non_null(strstr(x, "policy.recipient.disposable = \"warn\"\n"));
    /* and the lists behind the settings are the same too */
    for (int k = 0; k < MV_LIST_COUNT; k++) {
        assert_int_equal(mv_lists_count(mv_config_lists(builtin), (mv_list_kind)k),
                         mv_lists_count(mv_config_lists(disk), (mv_list_kind)k));
        assert_int_equal(mv_lists_count(mv_config_lists(builtin), (mv_list_kind)k),
                         mv_lists_count(mv_config_lists(empty), (mv_list_kind)k));
    }
    free(a);
    free(b);
    free(c);
    free(x);
    mv_config_unref(builtin);
    mv_config_unref(disk);
    mv_config_unref(empty);
    mv_config_unref(changed);
    mv_diag_clear(&d);
}

/* -- one error of each kind, at its line ------------------------------------ */

typedef struct {
    int line;
    const char *text; /* substring of the message */
} want_msg;

typedef struct {
    const char *name;
    const char *conf;
    size_t errors; /* exactly this many */
    want_msg want[4];
    const char *unwanted; /* no message may contain this */
} err_case;

static const err_case err_cases[] = {
    {"syntax error: libconfig's one message",
     "typo = {\n  enabled = = true;\n};\nzzz = 1;\n",
     1,
     {{2, "syntax error"}},
     NULL},
    {"syntax error: unterminated string",
     "# comment\n\nlists = {\n  free = \"abc;\n};\n",
     1,
     {{0, "syntax error"}},
     NULL},
    {"unknown key at top level",
     "# c\ntypos = { enabled = true; };\n",
     1,
     {{2, "unknown key 'typos' (did you mean 'typo'?)"}},
     NULL},
    {"unknown key nested",
     "lists = {\n  free = \"builtin\";\n  disposible = \"builtin\";\n};\n",
     1,
     {{3, "unknown key 'lists.disposible' (did you mean 'lists.disposable'?)"}},
     NULL},
    {"unknown key with nothing close",
     "\n\nwebhookery_xyz = 1;\n",
     1,
     {{3, "unknown key 'webhookery_xyz'"}},
     "did you mean"},
    {"string for a bool",
     "typo = {\n  enabled = \"yes\";\n};\n",
     1,
     {{2, "'typo.enabled' must be true or false, not a string"}},
     NULL},
    {"int for a string",
     "lists = {\n\n  free = 5;\n};\n",
     1,
     {{3, "'lists.free' must be a string, not an integer"}},
     NULL},
    {"group for a scalar",
     "typo = {\n  enabled = {\n  };\n};\n",
     1,
     {{2, "'typo.enabled' must be true or false, not a group"}},
     NULL},
    {"scalar for a group", "\ntypo = true;\n", 1, {{2, "'typo' must be a group"}}, NULL},
    {"array of ints for lists.allow",
     "lists = {\n  allow = [ 1, 2 ];\n};\n",
     1,
     {{2, "'lists.allow' must be an array of strings"}},
     NULL},
    {"fastcgi.ipv6_prefix 0: out of range",
     "fastcgi = {\n  ip_rate = 5;\n  ipv6_prefix = 0;\n};\n",
     1,
     {{3, "'fastcgi.ipv6_prefix' is 0; it must be between 1 and 128"}},
     NULL},
    {"fastcgi.ipv6_prefix 129: out of range",
     "fastcgi = {\n  ipv6_prefix = 129;\n};\n",
     1,
     {{2, "'fastcgi.ipv6_prefix' is 129; it must be between 1 and 128"}},
     NULL},
    {"milter.ipv6_prefix -1: out of range",
     "\nmilter = {\n  ipv6_prefix = -1;\n};\n",
     1,
     {{3, "'milter.ipv6_prefix' is -1; it must be between 1 and 128"}},
     NULL},
    {"empty string: too short",
     "lists = {\n  role = \"\";\n};\n",
     1,
     {{2, "'lists.role' must be 1 to 4096 characters long"}},
     NULL},
    {"unknown policy context",
     "policy = {\n  form = { };\n  forms = { disposable = \"block\"; };\n};\n",
     1,
     {{3, "unknown policy context 'policy.forms'"}},
     NULL},
    {"policy context not a group",
     "policy = {\n  form = \"block\";\n};\n",
     1,
     {{2, "'policy.form' must be a group"}},
     NULL},
    {"unknown reason in a policy group",
     "policy = {\n  form = {\n    disposable = \"block\";\n    disposible = \"block\";\n  };\n};\n",
     1,
     {{4, "unknown reason or signal 'policy.form.disposible' (did you mean 'disposable'?)"}},
     NULL},
    {"bad action name",
     "policy = {\n  bulk = {\n    role_account = \"blok\";\n  };\n};\n",
     1,
     {{3, "\"blok\" is not an action"}, {3, "did you mean \"block\""}},
     NULL},
    {"action of the wrong type",
     "policy = {\n  bulk = {\n    role_account = true;\n  };\n};\n",
     1,
     {{3, "'policy.bulk.role_account' must be an action string"}},
     NULL},
    {"suggestion = block refused",
     "policy = {\n  form = {\n    suggestion = \"warn\";\n  };\n  bulk = {\n    suggestion = \"block\";\n  "
     "};\n};\n",
     1,
     {{6, "'policy.bulk.suggestion' cannot be \"block\""}},
     NULL},
    {"bad default action",
     "policy = {\n  sender = {\n    default = \"rejct\";\n  };\n};\n",
     1,
     {{3, "\"rejct\" is not an action"}},
     NULL},
    {"canonical rule missing domains",
     "canonical = (\n  { domains = [ \"a.example\" ]; },\n  { ignore_case = true; }\n);\n",
     1,
     {{3, "canonical rule 2: required key 'domains' is missing"}},
     NULL},
    {"bad domain in a canonical rule",
     "canonical = (\n  { domains = [ \"gmail.com\", \"not a domain\" ];\n    ignore_case = true; }\n);\n",
     1,
     {{2, "canonical rule 1: \"not a domain\" is not a domain name"}},
     NULL},
    {"bad target domain in a canonical rule",
     "canonical = (\n  { domains = [ \"gmail.com\" ];\n    domain = \"gmail..com\"; }\n);\n",
     1,
     {{3, "canonical rule 1: 'domain' \"gmail..com\" is not a domain name"}},
     NULL},
    {"unknown key in a canonical rule",
     "canonical = (\n  { domains = [ \"gmail.com\" ];\n    ignore_dot = true; }\n);\n",
     1,
     {{3, "unknown key 'ignore_dot' in canonical rule 1 (did you mean 'ignore_dots'?)"}},
     NULL},
    {"wrong type in a canonical rule",
     "canonical = (\n  { domains = [ \"gmail.com\" ];\n    ignore_case = \"yes\"; }\n);\n",
     1,
     {{3, "'ignore_case' in canonical rule 1 must be true or false, not a string"}},
     NULL},
    {"canonical rule with no domains",
     "canonical = (\n  { domains = [ ];\n    ignore_case = true; }\n);\n",
     1,
     {{2, "canonical rule 1: 'domains' must list 1 to 64 domains"}},
     NULL},
    {"canonical rule not a group",
     "canonical = (\n  \"gmail.com\" );\n",
     1,
     {{2, "canonical rule 1 must be a group"}},
     NULL},
    {"canonical not a list",
     "\ncanonical = { domains = [ \"gmail.com\" ]; };\n",
     1,
     {{2, "'canonical' must be a list of groups"}},
     NULL},
    {"bad tag_separators: a letter",
     "canonical = (\n  { domains = [ \"gmail.com\" ];\n    tag_separators = \"+a\"; }\n);\n",
     1,
     {{3, "canonical rule 1: 'tag_separators' may hold only"}},
     NULL},
    {"bad tag_separators: @",
     "canonical = (\n  { domains = [ \"gmail.com\" ];\n    tag_separators = \"@\"; }\n);\n",
     1,
     {{3, "'tag_separators' may hold only"}},
     NULL},
    {"lists.allow with a non-domain",
     "lists = {\n  allow = [ \"example.com\", \"not a domain\" ];\n};\n",
     1,
     {{2, "'lists.allow' entry \"not a domain\" is not a domain name"}},
     NULL},
    {"webhook.url not http(s)",
     "webhook = {\n  url = \"file:///etc/passwd\";\n};\n",
     1,
     {{2, "'webhook.url' \"file:///etc/passwd\" must be an http:// or https:// URL"}},
     NULL},
    {"webhook.url without a host",
     "webhook = {\n  url = \"https:///hook\";\n};\n",
     1,
     {{2, "must be an http:// or https:// URL with a host"}},
     NULL},
    {"lists.allow with an address literal",
     "lists = {\n  allow = [ \"[127.0.0.1]\" ];\n};\n",
     1,
     {{2, "\"[127.0.0.1]\" is not a domain name"}},
     NULL},
};

/* expect_errors - every wanted message at its line, and no more errors */
static void expect_errors(const char *name, const char *path, const mv_diag *d, const want_msg *want,
                          size_t nwant, size_t errors, const char *unwanted)
{
    bool bad = d->errors != errors;

    for (size_t j = 0; j < nwant && want[j].text != NULL; j++) {
        if (want[j].line == 0) {
            bool any = false;

            for (size_t i = 0; i < d->count; i++)
                any |= strncmp(d->items[i].text, path, strlen(path)) == 0 &&
                       strstr(d->items[i].text, want[j].text) != NULL;
            if (!any) {
                print_error("missing: %s: ...%s\n", path, want[j].text);
                bad = true;
            }
        } else if (find_diag(d, MV_DIAG_ERROR, path, want[j].line, want[j].text) == NULL) {
            print_error("missing: %s:%d: ...%s\n", path, want[j].line, want[j].text);
            bad = true;
        }
    }
    for (size_t i = 0; unwanted != NULL && i < d->count; i++)
        if (strstr(d->items[i].text, unwanted) != NULL) {
            print_error("unwanted \"%s\" in: %s\n", unwanted, d->items[i].text);
            bad = true;
        }
    if (bad) {
        print_diag(d);
        fail_case("%s: want %zu errors, got %zu", name, errors, d->errors);
    }
}

static void test_error_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(*err_cases); i++) {
        const err_case *c = &err_cases[i];
        mv_diag d = {0};
        char path[512];
        mv_config *cfg = load_str("err.conf", c->conf, MV_CONFIG_SKIP_LISTS, &d, path, sizeof(path));

        if (cfg != NULL) {
            print_diag(&d);
            fail_case("%s: the load succeeded", c->name);
        }
        expect_errors(c->name, path, &d, c->want, 4, c->errors, c->unwanted);
        mv_diag_clear(&d);
    }
}

/* The same errors from mv_config_load_text: the name given is in messages. */
static void test_error_from_text(void **state)
{
    static const char conf[] = "typo = {\n  enabled = \"yes\";\n};\n";
    mv_diag d = {0};
    mv_config *cfg;

    (void)state;
    cfg = load_text_all(conf, sizeof(conf) - 1, "my.conf", NULL, MV_CONFIG_SKIP_LISTS, &d);
    assert_null(cfg);
    expect_errors("load_text", "my.conf", &d, (const want_msg[]){{2, "'typo.enabled' must be true or false"}},
                  1, 1, NULL);
    mv_diag_clear(&d);
}

/* Key-table bounds hold for canonical rules too: tag_separators is 1..8. */
static void test_rule_string_bounds(void **state)
{
    static const struct {
        const char *name, *conf;
    } cases[] = {
        {"9 separators",
         "canonical = (\n  { domains = [ \"gmail.com\" ];\n    tag_separators = \"+-=_~!#$%\"; }\n);\n"},
        {"empty separators",
         "canonical = (\n  { domains = [ \"gmail.com\" ];\n    tag_separators = \"\"; }\n);\n"},
    };
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        mv_diag d = {0};
        char path[512];
        mv_config *cfg = load_str("bounds.conf", cases[i].conf, MV_CONFIG_SKIP_LISTS, &d, path, sizeof(path));

        if (cfg != NULL || find_diag(&d, MV_DIAG_ERROR, path, 3, "tag_separators") == NULL) {
            print_diag(&d);
            print_error("case failed: %s: a tag_separators outside the key table's "
                        "1..8 characters was accepted\n",
                        cases[i].name);
            bad++;
        }
        mv_config_unref(cfg);
        mv_diag_clear(&d);
    }
    assert_int_equal(bad, 0);
}

/* A path longer than the key table's 4096 characters is refused. */
static void test_long_list_path(void **state)
{
    char *conf = malloc(6000), path[512];
    mv_diag d = {0};
    int n;

    (void)state;
    assert_non_null(conf);
    n = snprintf(conf, 6000, "lists = {\n  free = \"");
    memset(conf + n, 'a', 4097);
    snprintf(conf + n + 4097, 6000 - (size_t)n - 4097, "\";\n};\n");
    assert_null(load_str("long.conf", conf, MV_CONFIG_SKIP_LISTS, &d, path, sizeof(path)));
    expect_errors("4097-character path", path, &d,
                  (const want_msg[]){{2, "'lists.free' must be 1 to 4096 characters long"}}, 1, 1, NULL);
    mv_diag_clear(&d);
    free(conf);
}

/* A rule may list 64 domains, not 65. */
static void test_rule_domain_count(void **state)
{
    (void)state;
    for (int n = 64; n <= 65; n++) {
        char conf[4096], path[512];
        size_t k = (size_t)snprintf(conf, sizeof(conf), "canonical = (\n  { domains = [");
        mv_diag d = {0};
        mv_config *cfg;

        for (int i = 0; i < n; i++)
            k += (size_t)snprintf(conf + k, sizeof(conf) - k, "%s\"d%d.example\"", i ? ", " : " ", i);
        snprintf(conf + k, sizeof(conf) - k, " ]; }\n);\n");
        cfg = load_str("count.conf", conf, MV_CONFIG_SKIP_LISTS, &d, path, sizeof(path));
        if (n == 64) {
            assert_non_null(cfg);
            assert_int_equal(mv_canon_count(mv_config_canon(cfg)), 1);
        } else {
            assert_null(cfg);
            assert_non_null(find_diag(&d, MV_DIAG_ERROR, path, 2, "must list 1 to 64 domains"));
        }
        mv_config_unref(cfg);
        mv_diag_clear(&d);
    }
}

/* canonical = ( ) means no rules; leaving the key out means the shipped ones. */
static void test_canonical_empty(void **state)
{
    mv_diag d = {0};
    mv_config *cfg;

    (void)state;
    cfg = load_text_all("canonical = ( );", 16, "e.conf", NULL, MV_CONFIG_SKIP_LISTS, &d);
    assert_non_null(cfg);
    assert_int_equal(mv_canon_count(mv_config_canon(cfg)), 0);
    mv_config_unref(cfg);
    cfg = load_text_all("typo = { };", 11, "e.conf", NULL, MV_CONFIG_SKIP_LISTS, &d);
    assert_non_null(cfg);
    assert_int_equal(mv_canon_count(mv_config_canon(cfg)), 6);
    mv_config_unref(cfg);
    assert_int_equal(d.count, 0);
}

/* A config file that cannot be read: one error naming it. */
static void test_unreadable_config(void **state)
{
    char missing[512], big[512];
    mv_diag d = {0};
    FILE *f;

    (void)state;
    snprintf(missing, sizeof(missing), "%s/no-such.conf", tmpdir);
    assert_null(load_all(missing, 0, &d));
    assert_int_equal(d.errors, 1);
    assert_non_null(find_diag(&d, MV_DIAG_ERROR, missing, 0, "cannot read: No such file"));
    mv_diag_clear(&d);

    assert_null(load_all(tmpdir, 0, &d)); /* a directory */
    assert_int_equal(d.errors, 1);
    assert_non_null(find_diag(&d, MV_DIAG_ERROR, tmpdir, 0, "cannot read"));
    mv_diag_clear(&d);

    snprintf(big, sizeof(big), "%s/huge.conf", tmpdir); /* sparse, 17 MB */
    f = fopen(big, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), 17 << 20), 0);
    assert_int_equal(fclose(f), 0);
    assert_null(load_all(big, 0, &d));
    assert_int_equal(d.errors, 1);
    assert_non_null(find_diag(&d, MV_DIAG_ERROR, big, 0, "larger than 16 MB"));
    mv_diag_clear(&d);
    assert_int_equal(unlink(big), 0);
}

/* Every error of a file, each at its own line, not only the first. */
static void test_several_errors(void **state)
{
    static const char conf[] = "# several mistakes\n"                                         /* 1 */
                               "lists = {\n"                                                  /* 2 */
                               "  disposible = \"builtin\";\n"                                /* 3 */
                               "  free = 7;\n"                                                /* 4 */
                               "  allow = [ \"bad domain\" ];\n"                              /* 5 */
                               "};\n"                                                         /* 6 */
                               "typo = {\n"                                                   /* 7 */
                               "  enabled = \"no\";\n"                                        /* 8 */
                               "};\n"                                                         /* 9 */
                               "policy = {\n"                                                 /* 10 */
                               "  form = {\n"                                                 /* 11 */
                               "    disposable = \"blok\";\n"                                 /* 12 */
                               "    suggestion = \"block\";\n"                                /* 13 */
                               "    rolle_account = \"warn\";\n"                              /* 14 */
                               "  };\n"                                                       /* 15 */
                               "  sendr = { };\n"                                             /* 16 */
                               "};\n"                                                         /* 17 */
                               "canonical = (\n"                                              /* 18 */
                               "  { ignore_case = true; },\n"                                 /* 19 */
                               "  { domains = [ \"x.example\" ]; tag_separators = \"a\"; }\n" /* 20 */
                               ");\n"                                                         /* 21 */
                               "webhok = { };\n";                                             /* 22 */
    static const want_msg want[] = {
        {3, "unknown key 'lists.disposible'"},
        {4, "'lists.free' must be a string"},
        {5, "\"bad domain\" is not a domain name"},
        {8, "'typo.enabled' must be true or false"},
        {12, "\"blok\" is not an action"},
        {13, "cannot be \"block\""},
        {14, "unknown reason or signal 'policy.form.rolle_account' (did you mean 'role_account'?)"},
        {16, "unknown policy context 'policy.sendr'"},
        {19, "canonical rule 1: required key 'domains' is missing"},
        {20, "canonical rule 2: 'tag_separators'"},
        {22, "unknown key 'webhok'"},
    };
    mv_diag d = {0};
    char path[512];

    (void)state;
    assert_null(load_str("several.conf", conf, 0, &d, path, sizeof(path)));
    expect_errors("several errors", path, &d, want, sizeof(want) / sizeof(*want),
                  sizeof(want) / sizeof(*want), NULL);
    mv_diag_clear(&d);
}

/* -- enumerated keys: names become codes once, at load ---------------------- */

typedef struct {
    const char *key;              /* "context.form.mode" */
    const mv_config_table *table; /* whose struct: NULL the engine's mv_settings */
    size_t off;                   /* its code in that struct (an int-sized enum) */
    const char *names[11];        /* every valid name, NULL-terminated ... */
    int codes[11];                /* ... and the code each one gives */
    const char *typo, *meant;     /* a near miss and the name it suggests */
} enum_case;

#define CTX_MODE(c, x) \
    { \
        "context." c ".mode", NULL, offsetof(mv_settings, context[x].mode), {"offline", "dns", "smtp"}, \
            {MV_MODE_OFFLINE, MV_MODE_DNS, MV_MODE_SMTP}, "dsn", "dns" \
    }

static const enum_case enum_cases[] = {
    CTX_MODE("sender", MV_CTX_SENDER),
    CTX_MODE("recipient", MV_CTX_RECIPIENT),
    CTX_MODE("form", MV_CTX_FORM),
    CTX_MODE("bulk", MV_CTX_BULK),
    {"smtp.tls",
     NULL,
     offsetof(mv_settings, smtp_tls),
     {"off", "opportunistic", "required"},
     {MV_SMTP_TLS_OFF, MV_SMTP_TLS_OPPORTUNISTIC, MV_SMTP_TLS_REQUIRED},
     "opportunistc",
     "opportunistic"},
    {"cache.store",
     NULL,
     offsetof(mv_settings, cache_store),
     {"memory", "lmdb", "redis"},
     {MV_STORE_MEMORY, MV_STORE_LMDB, MV_STORE_REDIS},
     "lmbd",
     "lmdb"},
    {"milter.review",
     &mv_milter_config_table,
     offsetof(mv_milter_settings, review),
     {"quarantine", "header"},
     {MV_REVIEW_QUARANTINE, MV_REVIEW_HEADER},
     "headers",
     "header"},
    {"milter.syslog_facility",
     &mv_milter_config_table,
     offsetof(mv_milter_settings, syslog_facility),
     {"mail", "daemon", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"},
     {LOG_MAIL, LOG_DAEMON, LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2, LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5,
      LOG_LOCAL6, LOG_LOCAL7},
     "deamon",
     "daemon"},
    {"fastcgi.on_block",
     &mv_fcgi_config_table,
     offsetof(mv_fcgi_settings, on_block),
     {"page", "redirect"},
     {MV_ON_BLOCK_PAGE, MV_ON_BLOCK_REDIRECT},
     "redirct",
     "redirect"},
};

/* enum_conf - a file setting key (a.b or a.b.c) to value on line 3 */
static void enum_conf(const char *key, const char *value, char *out, size_t n)
{
    const char *dot1 = strchr(key, '.'), *dot2 = strchr(dot1 + 1, '.');

    if (dot2 == NULL)
        snprintf(out, n, "# enum\n%.*s = {\n  %s = \"%s\";\n};\n", (int)(dot1 - key), key, dot1 + 1, value);
    else
        snprintf(out, n, "# enum\n%.*s = { %.*s = {\n  %s = \"%s\";\n}; };\n", (int)(dot1 - key), key,
                 (int)(dot2 - dot1 - 1), dot1 + 1, dot2 + 1, value);
}

/* enum_valid - every name loads, gives its code, and --print names it */
static void enum_valid(const enum_case *c)
{
    for (size_t i = 0; i < 11 && c->names[i] != NULL; i++) {
        char conf[256], path[512], want[128], *text;
        mv_diag d = {0};
        mv_config *cfg;
        const void *base;

        if (c->codes[i] == MV_STORE_REDIS && strcmp(c->key, "cache.store") == 0 &&
            !mv_store_built(MV_STORE_REDIS))
            continue; /* refused by check_meaning: not built */
        enum_conf(c->key, c->names[i], conf, sizeof(conf));
        if ((cfg = load_str("enum.conf", conf, MV_CONFIG_SKIP_LISTS, &d, path, sizeof(path))) == NULL) {
            print_diag(&d);
            fail_case("%s = \"%s\" was refused", c->key, c->names[i]);
        }
        base = c->table ? mv_config_table_settings(cfg, c->table) : (const void *)mv_config_settings(cfg);
        if (*(const int *)((const char *)base + c->off) != c->codes[i])
            fail_case("%s = \"%s\": code %d, want %d", c->key, c->names[i],
                      *(const int *)((const char *)base + c->off), c->codes[i]);
        snprintf(want, sizeof(want), "\n%s = \"%s\"\n", c->key, c->names[i]);
        text = dump(cfg);
        if (strstr(text, want) == NULL)
            fail_case("--print lacks %s = \"%s\"", c->key, c->names[i]);
        free(text);
        mv_config_unref(cfg);
        mv_diag_clear(&d);
    }
}

/* enum_refused - a wrong name: one error at its line with msg in it,
 * and without unwanted */
static void enum_refused(const enum_case *c, const char *value, const char *msg, const char *unwanted)
{
    char conf[256], path[512];
    mv_diag d = {0};
    want_msg want[1] = {{3, msg}};

    enum_conf(c->key, value, conf, sizeof(conf));
    assert_null(load_str("enum.conf", conf, MV_CONFIG_SKIP_LISTS, &d, path, sizeof(path)));
    expect_errors(c->key, path, &d, want, 1, 1, unwanted);
    mv_diag_clear(&d);
}

static void test_enum_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(enum_cases) / sizeof(*enum_cases); i++) {
        const enum_case *c = &enum_cases[i];
        char msg[256], list[200] = "";

        enum_valid(c);
        snprintf(msg, sizeof(msg), "'%s' is \"%s\"; it must be one of: ", c->key, c->typo);
        enum_refused(c, c->typo, msg, NULL);
        snprintf(msg, sizeof(msg), "(did you mean \"%s\"?)", c->meant);
        enum_refused(c, c->typo, msg, NULL);
        for (size_t j = 0; j < 11 && c->names[j] != NULL; j++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", j ? ", " : "", c->names[j]);
        snprintf(msg, sizeof(msg), "'%s' is \"qqqqqqqqq\"; it must be one of: %s", c->key, list);
        enum_refused(c, "qqqqqqqqq", msg, "did you mean");
    }
}

/* Every wrong value of a file at once, each at its line. */
static void test_enum_errors_at_once(void **state)
{
    static const char conf[] = "cache = {\n"                                 /* 1 */
                               "  store = \"lmbd\";\n"                       /* 2 */
                               "};\n"                                        /* 3 */
                               "smtp = { tls = \"requried\"; };\n"           /* 4 */
                               "context = {\n"                               /* 5 */
                               "  bulk = { mode = \"nothing-like-it\"; };\n" /* 6 */
                               "};\n";                                       /* 7 */
    static const want_msg want[] = {
        {2, "(did you mean \"lmdb\"?)"},
        {4, "(did you mean \"required\"?)"},
        {6, "it must be one of: offline, dns, smtp"},
    };
    mv_diag d = {0};
    char path[512];

    (void)state;
    assert_null(load_str("enums.conf", conf, MV_CONFIG_SKIP_LISTS, &d, path, sizeof(path)));
    expect_errors("enum errors", path, &d, want, 3, 3, NULL);
    mv_diag_clear(&d);
}

/* -- meaning -------------------------------------------------------------- */

static void test_policy_default(void **state)
{
    static const char conf[] = "policy = {\n"
                               "  recipient = {\n"
                               "    disposable = \"accept\";\n"
                               "    default = \"review\";\n"
                               "    free = \"warn\";\n"
                               "  };\n"
                               "};\n";
    mv_diag d = {0};
    char path[512];
    mv_config *cfg;
    const mv_policy *p, *form;

    (void)state;
    cfg = load_str("default.conf", conf, MV_CONFIG_SKIP_LISTS, &d, path, sizeof(path));
    if (cfg == NULL) {
        print_diag(&d);
        fail();
    }
    p = mv_config_policy(cfg, MV_CTX_RECIPIENT);
    for (int r = 0; r < MV_R_COUNT; r++) {
        mv_action want = r == MV_R_DISPOSABLE ? MV_ACT_ACCEPT : MV_ACT_REVIEW;

        if (p->reason[r] != want)
            fail_case("recipient.%s: want %s, got %s", mv_reason_name((mv_reason)r), mv_action_name(want),
                      mv_action_name(p->reason[r]));
    }
    /* default covers reasons only, not the two signals */
    assert_int_equal(p->free_provider, MV_ACT_WARN);
    assert_int_equal(p->suggestion, MV_ACT_ACCEPT);
    /* and other contexts keep their defaults */
    form = mv_config_policy(cfg, MV_CTX_FORM);
    assert_int_equal(form->reason[MV_R_DISPOSABLE], MV_ACT_BLOCK);
    assert_int_equal(form->reason[MV_R_UNVERIFIED], MV_ACT_ACCEPT);
    mv_config_unref(cfg);
    mv_diag_clear(&d);
}

/* @include is relative to the including file's directory, not the cwd. */
static void test_include_relative(void **state)
{
    char sub[512], path[512], inc[512];
    mv_diag d = {0};
    mv_config *cfg;

    (void)state;
    snprintf(sub, sizeof(sub), "%s/inc", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_str("inc/policy.inc", "form = {\n  role_account = \"block\";\n};\n", inc, sizeof(inc));
    write_str("inc/main.conf", "policy = {\n  @include \"policy.inc\"\n};\ntypo = { enabled = false; };\n",
              path, sizeof(path));
    cfg = load_all(path, MV_CONFIG_SKIP_LISTS, &d);
    if (cfg == NULL || d.count != 0) {
        print_diag(&d);
        fail_msg("include: load failed");
    }
    assert_int_equal(mv_config_policy(cfg, MV_CTX_FORM)->reason[MV_R_ROLE_ACCOUNT], MV_ACT_BLOCK);
    assert_false(mv_config_settings(cfg)->typo_enabled);
    mv_config_unref(cfg);

    /* an error inside the included file names that file and its line */
    write_str("inc/policy.inc", "form = {\n\n  role_account = \"blocc\";\n};\n", inc, sizeof(inc));
    assert_null(load_all(path, MV_CONFIG_SKIP_LISTS, &d));
    if (d.errors != 1 || d.count != 1 || strstr(d.items[0].text, "policy.inc:3: ") == NULL ||
        strstr(d.items[0].text, "\"blocc\" is not an action") == NULL) {
        print_diag(&d);
        fail_msg("error in included file not reported at policy.inc:3");
    }
    mv_diag_clear(&d);
}

/* A NUL byte in the text is an error, not a silent end of file. */
static void test_nul_byte(void **state)
{
    static const char conf[] = "typo = { enabled = true; };\n\0webhok = 1;\n";
    mv_diag d = {0};
    char path[512];

    (void)state;
    assert_null(load_text_all(conf, sizeof(conf) - 1, "nul.conf", NULL, MV_CONFIG_SKIP_LISTS, &d));
    assert_int_equal(d.errors, 1);
    assert_non_null(find_diag(&d, MV_DIAG_ERROR, "nul.conf", 0, "NUL byte"));
    mv_diag_clear(&d);

    write_file("nul.conf", conf, sizeof(conf) - 1, path, sizeof(path));
    assert_null(load_all(path, MV_CONFIG_SKIP_LISTS, &d));
    assert_int_equal(d.errors, 1);
    assert_non_null(find_diag(&d, MV_DIAG_ERROR, path, 0, "NUL byte"));
    mv_diag_clear(&d);
}

/* lists.allow is applied and shown by the dump, as written. */
static void test_allow_applied(void **state)
{
    static const char conf[] = "lists = {\n  allow = [ \"mailinator.com\", \"Example.ORG\" ];\n};\n";
    mv_diag d = {0};
    char path[512], *s;
    mv_config *cfg;

    (void)state;
    cfg = load_str("allow.conf", conf, 0, &d, path, sizeof(path));
    if (cfg == NULL) {
        print_diag(&d);
        fail();
    }
    assert_false(mv_lists_disposable(mv_config_lists(cfg), "mailinator.com", 14));
    assert_int_equal(mv_lists_count(mv_config_lists(cfg), MV_LIST_ALLOW), 2);
    s = dump(cfg);
    assert_non_null(strstr(s, "lists.allow = [ \"mailinator.com\", \"Example.ORG\" ]\n"));
    free(s);
    mv_config_unref(cfg);
    mv_diag_clear(&d);
}

/* -- list files ------------------------------------------------------------- */

/* Relative list paths start at the config file's directory, not the cwd. */
static void test_relative_list_paths(void **state)
{
    char sub[512], path[512], list[512];
    mv_diag d = {0};
    mv_config *cfg;

    (void)state;
    snprintf(sub, sizeof(sub), "%s/rel", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(sub, sizeof(sub), "%s/rel/lists", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_str("rel/lists/free.txt", "# ours\nfree.example\nmail.example\n", list, sizeof(list));
    write_str("rel/lists/role.txt", "boss\n", list, sizeof(list));
    write_str("rel/my.conf", "lists = {\n  free = \"lists/free.txt\";\n  role = \"lists/role.txt\";\n};\n",
              path, sizeof(path));
    cfg = load_all(path, 0, &d);
    if (cfg == NULL || d.count != 0) {
        print_diag(&d);
        fail_msg("relative list paths: load failed");
    }
    assert_int_equal(mv_lists_count(mv_config_lists(cfg), MV_LIST_FREE), 2);
    assert_true(mv_lists_free_provider(mv_config_lists(cfg), "mail.example", 12));
    assert_false(mv_lists_free_provider(mv_config_lists(cfg), "gmail.com", 9));
    assert_true(mv_lists_role(mv_config_lists(cfg), "Boss", 4));
    assert_false(mv_lists_role(mv_config_lists(cfg), "info", 4));
    /* the other lists are still the built-in ones */
    assert_true(mv_lists_disposable(mv_config_lists(cfg), "mailinator.com", 14));
    mv_config_unref(cfg);
    mv_diag_clear(&d);
}

/* A list file that cannot be read fails the load, naming file and line. */
static void test_missing_list_file(void **state)
{
    static const char conf[] = "# a list that is not there\nlists = {\n  role = \"no-such-list.txt\";\n};\n";
    mv_diag d = {0};
    char path[512], want[600];
    mv_config *cfg;
    bool ok;

    (void)state;
    cfg = load_str("missing.conf", conf, 0, &d, path, sizeof(path));
    assert_null(cfg);
    assert_int_equal(d.errors, 1);
    snprintf(want, sizeof(want), "%s/no-such-list.txt", tmpdir);
    ok = find_diag(&d, MV_DIAG_ERROR, path, 3, want) != NULL &&
         strstr(d.items[0].text, "No such file") != NULL;
    if (!ok) {
        print_diag(&d);
        print_error("want \"%s:3: cannot read list %s: No such file or directory\"\n", path, want);
    }
    mv_diag_clear(&d);
    assert_true(ok);
}

/* Bad lines of a list file are warnings with their line, never quoted; the load succeeds. */
static void test_list_bad_lines(void **state)
{
    static const char list[] = "# disposable domains\n"  /* 1 */
                               "trash.example\n"         /* 2 */
                               "not a domain\n"          /* 3 */
                               "\n"                      /* 4 */
                               "spam..example\n"         /* 5 */
                               "junk.example   # ok\r\n" /* 6 */
                               "user@host.example\n";    /* 7 */
    char lpath[512], path[512];
    mv_diag d = {0};
    mv_config *cfg;

    (void)state;
    write_file("bad-lines.txt", list, sizeof(list) - 1, lpath, sizeof(lpath));
    cfg = load_str("badlines.conf", "lists = {\n  disposable = \"bad-lines.txt\";\n};\n", 0, &d, path,
                   sizeof(path));
    if (cfg == NULL || d.errors != 0 || d.warnings != 3 ||
        find_diag(&d, MV_DIAG_WARNING, lpath, 3, "not a valid disposable domain") == NULL ||
        find_diag(&d, MV_DIAG_WARNING, lpath, 5, "not a valid disposable domain") == NULL ||
        find_diag(&d, MV_DIAG_WARNING, lpath, 7, "not a valid disposable domain") == NULL) {
        print_diag(&d);
        mv_config_unref(cfg);
        fail_msg("bad list lines: want 3 warnings at lines 3, 5, 7 and a config");
    }
    /* file and line only: the path may point at a file of secrets (issue 13) */
    for (size_t i = 0; i < d.count; i++)
        if (strstr(d.items[i].text, "not a domain") || strstr(d.items[i].text, "spam..") ||
            strstr(d.items[i].text, "user@"))
            fail_msg("a rejected line is quoted: %s", d.items[i].text);
    assert_int_equal(mv_lists_count(mv_config_lists(cfg), MV_LIST_DISPOSABLE), 2);
    assert_true(mv_lists_disposable(mv_config_lists(cfg), "junk.example", 12));
    mv_config_unref(cfg);
    mv_diag_clear(&d);
}

/* -- front ends' tables ------------------------------------------------------ */

/* load_tabs - a file loaded as a program loads it: its own tables only */
static mv_config *load_tabs(const char *name, const char *text, const mv_config_table *const *tabs, int flags,
                            mv_diag *d)
{
    char path[512];

    write_str(name, text, path, sizeof(path));
    return mv_config_load_with(path, tabs, flags | MV_CONFIG_SKIP_LISTS, d);
}

/* mailverifyd reads the file it shares with mailverify.fcgi: the fastcgi
 * group is the plugin's, not its own, and is skipped; its own keys are
 * checked as before, and a mistyped group is still a mistake */
static void test_daemon_reads_its_own_group(void **state)
{
    static const char conf[] = "milter = {\n  socket = \"inet:9999@127.0.0.1\";\n"
                               "  trusted_networks = [ \"10.0.0.0/8\", \"2001:db8::/32\" ];\n};\n"
                               "fastcgi = {\n  threads = 8;\n  whatever = 1;\n};\n";
    struct sockaddr_in in = {.sin_family = AF_INET};
    mv_diag d = {0};
    mv_config *cfg;
    const mv_milter_settings *ms;

    (void)state;
    cfg = load_tabs("mvd.conf", conf, mv_milter_config_tables, 0, &d);
    if (cfg == NULL || d.count != 0) {
        print_diag(&d);
        fail_msg("mailverifyd refused a file with another program's group");
    }
    ms = mv_milter_settings_of(cfg);
    assert_string_equal(ms->socket, "inet:9999@127.0.0.1");
    assert_string_equal(ms->header, "X-Mailverify"); /* a default */
    assert_int_equal(ms->trusted_networks.n, 2);
    inet_pton(AF_INET, "10.200.1.2", &in.sin_addr);
    assert_true(mv_nets_match(&ms->trusted_networks, (struct sockaddr *)&in));
    inet_pton(AF_INET, "11.0.0.1", &in.sin_addr);
    assert_false(mv_nets_match(&ms->trusted_networks, (struct sockaddr *)&in));
    assert_null(mv_config_table_settings(cfg, &mv_fcgi_config_table));
    mv_config_unref(cfg);
    mv_diag_clear(&d);

    /* its own group's keys and a near miss of a group name are still errors */
    assert_null(load_tabs("mvd2.conf", "milter = {\n  sokcet = \"x\";\n};\nsmpt = { port = 26; };\n",
                          mv_milter_config_tables, 0, &d));
    {
        want_msg want[] = {{2, "unknown key 'milter.sokcet' (did you mean 'milter.socket'?)"},
                           {4, "unknown key 'smpt' (did you mean 'smtp'?)"}};
        char path[512];

        snprintf(path, sizeof(path), "%s/mvd2.conf", tmpdir);
        expect_errors("daemon's own keys", path, &d, want, 2, 2, NULL);
    }
    mv_diag_clear(&d);
}

/* config-test has every table and says so: a group no program knows, or a
 * mistyped key in any program's group, is an error at its line */
static void test_config_test_knows_every_group(void **state)
{
    static const char conf[] = "fastcgi = {\n  threds = 8;\n};\nmilter = {\n  trusted_networks = "
                               "[ \"10.0.0.0/33\" ];\n};\nfrobnicate = { a = 1; };\n";
    want_msg want[] = {{2, "unknown key 'fastcgi.threds' (did you mean 'fastcgi.threads'?)"},
                       {5, "'milter.trusted_networks' entry \"10.0.0.0/33\" is not an address or network"},
                       {7, "unknown key 'frobnicate'"}};
    char path[512];
    mv_diag d = {0};

    (void)state;
    write_str("all.conf", conf, path, sizeof(path));
    assert_null(load_all(path, MV_CONFIG_SKIP_LISTS, &d));
    expect_errors("config-test", path, &d, want, 3, 3, NULL);
    mv_diag_clear(&d);
    /* without the flag, the unknown group is somebody else's: 2 errors */
    assert_null(mv_config_load_with(path, all_tables, MV_CONFIG_SKIP_LISTS, &d));
    assert_int_equal(d.errors, 2);
    mv_diag_clear(&d);
}

/* A table of a new front end: its defaults, its values, its own meaning
 * check reported at the key's line, its secrets hidden by --print */
typedef struct {
    long long limit, floor;
    char *token;
    mv_strlist names;
} demo_settings;

static const mv_config_key demo_keys[] = {
    MV_GROUP_KEY("demo"),
    MV_INT_KEY("demo.limit", demo_settings, limit, 0, 100, "10"),
    MV_INT_KEY("demo.floor", demo_settings, floor, 0, 100, "1"),
    MV_STR_KEY("demo.token", demo_settings, token, 0, 64, "", MV_KEY_SECRET),
    MV_LIST_KEY("demo.names", demo_settings, names, "alpha", 0),
};

static void demo_check(struct mv_config_check *ck, const void *settings)
{
    const demo_settings *s = settings;

    if (s->floor > s->limit)
        mv_config_check_error(ck, "demo.floor", "'demo.floor' (%lld) is above 'demo.limit' (%lld)", s->floor,
                              s->limit);
}

static const mv_config_table demo_table = {
    .group = "demo",
    .keys = demo_keys,
    .nkeys = sizeof(demo_keys) / sizeof(*demo_keys),
    .size = sizeof(demo_settings),
    .check = demo_check,
};
static const mv_config_table *const demo_tables[] = {&demo_table, NULL};

static void test_new_front_end_table(void **state)
{
    mv_diag d = {0};
    mv_config *cfg;
    const demo_settings *ds;
    char *text;

    (void)state;
    cfg = load_tabs("demo1.conf", "demo = { token = \"s3cret\"; };\n", demo_tables, 0, &d);
    assert_non_null(cfg);
    ds = mv_config_table_settings(cfg, &demo_table);
    assert_int_equal(ds->limit, 10);
    assert_int_equal(ds->names.n, 1);
    assert_string_equal(ds->names.v[0], "alpha");
    assert_string_equal(ds->token, "s3cret");
    text = dump(cfg);
    assert_non_null(strstr(text, "\ndemo.limit = 10\n"));
    assert_non_null(strstr(text, "\ndemo.names = [ \"alpha\" ]\n"));
    assert_null(strstr(text, "s3cret"));
    free(text);
    mv_config_unref(cfg);

    assert_null(
        load_tabs("demo2.conf", "# x\ndemo = {\n  limit = 3;\n  floor = 4;\n};\n", demo_tables, 0, &d));
    {
        want_msg want[] = {{4, "'demo.floor' (4) is above 'demo.limit' (3)"}};
        char path[512];

        snprintf(path, sizeof(path), "%s/demo2.conf", tmpdir);
        expect_errors("demo check", path, &d, want, 1, 1, NULL);
    }
    mv_diag_clear(&d);
}

/* A reference outlives the engine that took it; unref frees on the last. */
static void test_refcount(void **state)
{
    mv_diag d = {0};
    mv_config *cfg;
    mv_engine *e;

    (void)state;
    cfg = load_all(NULL, MV_CONFIG_SKIP_LISTS, &d);
    assert_non_null(cfg);
    e = mv_engine_new(cfg);
    assert_non_null(e);
    mv_config_unref(cfg); /* the engine still holds one */
    assert_ptr_equal(mv_config_ref(cfg), cfg);
    mv_engine_free(e);
    assert_true(mv_config_settings(cfg)->typo_enabled);
    mv_config_unref(cfg);
    mv_config_unref(NULL);
    mv_diag_clear(&d);
}

/* metrics.listen: a numeric IPv4 address or a bracketed IPv6 one, and a
 * port 1-65535; the loader rejects the rest with the key's line */
static void test_metrics_listen(void **state)
{
    static const struct {
        const char *spec;
        int family;
        unsigned short port;
    } cases[] = {
        {"127.0.0.1:9470", AF_INET, 9470},
        {"[::1]:9470", AF_INET6, 9470},
        {"0.0.0.0:1", AF_INET, 1},
        {"10.1.2.3:65535", AF_INET, 65535},
        {"::1:9470", 0, 0},
        {"localhost:9470", 0, 0},
        {"127.0.0.1:0", 0, 0},
        {"127.0.0.1:65536", 0, 0},
        {"127.0.0.1:", 0, 0},
        {"127.0.0.1", 0, 0},
        {":9470", 0, 0},
        {"[127.0.0.1]:80", 0, 0},
        {"[::1]", 0, 0},
        {"[::1:80", 0, 0},
        {"127.0.0.1:80x", 0, 0},
        {"127.0.0.1:+80", 0, 0},
        {"", 0, 0},
    };
    static const char bad[] = "metrics = {\n  listen = \"localhost:http\";\n};\n";
    struct sockaddr_storage ss;
    socklen_t len;
    mv_diag d = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        bool ok = (memset(&ss, 0, sizeof(ss)), mv_config_parse_listen(cases[i].spec, &ss, &len));
        unsigned short port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                                      : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);

        if (ok != (cases[i].family != 0) ||
            (ok && (ss.ss_family != cases[i].family || port != cases[i].port)))
            fail_case("%s", cases[i].spec);
    }
    assert_null(mv_config_load_text_with(bad, strlen(bad), "m.conf", NULL, all_tables,
                                         MV_CONFIG_SKIP_LISTS | MV_CONFIG_ALL_TABLES, &d));
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0].text, "m.conf:2: metrics.listen: "));
    mv_diag_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_loads_clean),
        cmocka_unit_test(test_shipped_file_equals_defaults),
        cmocka_unit_test(test_error_cases),
        cmocka_unit_test(test_error_from_text),
        cmocka_unit_test(test_rule_string_bounds),
        cmocka_unit_test(test_long_list_path),
        cmocka_unit_test(test_rule_domain_count),
        cmocka_unit_test(test_canonical_empty),
        cmocka_unit_test(test_unreadable_config),
        cmocka_unit_test(test_several_errors),
        cmocka_unit_test(test_enum_keys),
        cmocka_unit_test(test_enum_errors_at_once),
        cmocka_unit_test(test_policy_default),
        cmocka_unit_test(test_include_relative),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_allow_applied),
        cmocka_unit_test(test_relative_list_paths),
        cmocka_unit_test(test_missing_list_file),
        cmocka_unit_test(test_list_bad_lines),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_daemon_reads_its_own_group),
        cmocka_unit_test(test_config_test_knows_every_group),
        cmocka_unit_test(test_new_front_end_table),
        cmocka_unit_test(test_metrics_listen),
    };

    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
