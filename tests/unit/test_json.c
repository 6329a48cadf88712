/* SPDX-License-Identifier: MIT */
/*
 * test_json.c - JSON escaping and the verdict's JSON form.
 *
 * mv_json_str must turn any bytes into a JSON string that a strict parser
 * accepts and that is valid UTF-8: scripts, the FastCGI plugin and pages
 * read it. mv_verdict_json must carry the keys of the DESIGN.md contract.
 * A small strict JSON parser below checks both; it flattens a document
 * into "path = value" entries ("checks.syntax.valid") for the assertions.
 */
#include "unit.h"

#include "config.h"
#include "engine.h"
#include "json.h"

/* -- a strict JSON parser (RFC 8259) --------------------------------------- */

typedef struct {
    char path[128];
    char type;  /* o a s n t f z (object array string number true false null) */
    char *val;  /* decoded string, number text; else NULL */
    size_t len; /* of val: a string may hold a NUL */
} jent;

typedef struct {
    const unsigned char *s, *end;
    jent *e;
    size_t n, cap;
    int depth;
} jparse;

/* utf8_len - length of a well-formed UTF-8 sequence (own check), or 0 */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0], cp;
    size_t n;

    if (c < 0x80)
        return 1;
    n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (n == 0 || n > avail || c > 0xF4)
        return 0;
    cp = c & (0xFF >> (n + 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* utf8_ok - is the whole buffer well-formed UTF-8? */
static bool utf8_ok(const char *s, size_t len)
{
    for (size_t i = 0, n; i < len; i += n)
        if ((n = utf8_len((const unsigned char *)s + i, len - i)) == 0)
            return false;
    return true;
}

/* put_cp - append a code point as UTF-8 */
static void put_cp(mv_buf *b, unsigned cp)
{
    if (cp < 0x80) {
        mv_buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        mv_buf_putc(b, (char)(0xC0 | cp >> 6));
        mv_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        mv_buf_putc(b, (char)(0xE0 | cp >> 12));
        mv_buf_putc(b, (char)(0x80 | (cp >> 6 & 0x3F)));
        mv_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        mv_buf_putc(b, (char)(0xF0 | cp >> 18));
        mv_buf_putc(b, (char)(0x80 | (cp >> 12 & 0x3F)));
        mv_buf_putc(b, (char)(0x80 | (cp >> 6 & 0x3F)));
        mv_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

static void jp_ws(jparse *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

/* jp_hex4 - four hex digits, or -1 */
static long jp_hex4(jparse *p)
{
    long v = 0;

    if (p->end - p->s < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int c = *p->s++;

        v = v * 16 + (c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1000000);
    }
    return v < 0 ? -1 : v;
}

/* jp_string - a string into out (decoded); false if not strict JSON */
static bool jp_string(jparse *p, mv_buf *out)
{
    if (p->s >= p->end || *p->s != '"')
        return false;
    p->s++;
    while (p->s < p->end && *p->s != '"') {
        unsigned c = *p->s;
        size_t n;

        if (c < 0x20)
            return false; /* raw control character */
        if (c != '\\') {
            if ((n = utf8_len(p->s, (size_t)(p->end - p->s))) == 0)
                return false; /* raw ill-formed UTF-8 */
            mv_buf_put(out, p->s, n);
            p->s += n;
            continue;
        }
        if (++p->s >= p->end)
            return false;
        switch (*p->s++) {
        case '"': mv_buf_putc(out, '"'); break;
        case '\\': mv_buf_putc(out, '\\'); break;
        case '/': mv_buf_putc(out, '/'); break;
        case 'b': mv_buf_putc(out, '\b'); break;
        case 'f': mv_buf_putc(out, '\f'); break;
        case 'n': mv_buf_putc(out, '\n'); break;
        case 'r': mv_buf_putc(out, '\r'); break;
        case 't': mv_buf_putc(out, '\t'); break;
        case 'u': {
            long cp = jp_hex4(p), lo;

            if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
                return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->end - p->s < 6 || p->s[0] != '\\' || p->s[1] != 'u')
                    return false; /* lone high surrogate */
                p->s += 2;
                if ((lo = jp_hex4(p)) < 0xDC00 || lo > 0xDFFF)
                    return false;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_cp(out, (unsigned)cp);
            break;
        }
        default: return false;
        }
    }
    if (p->s >= p->end)
        return false;
    p->s++;
    return true;
}

/* jp_number - RFC 8259 number grammar */
static bool jp_number(jparse *p)
{
    const unsigned char *s = p->s;

    if (s < p->end && *s == '-')
        s++;
    if (s < p->end && *s == '0')
        s++;
    else if (s < p->end && *s >= '1' && *s <= '9')
        while (s < p->end && *s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (s < p->end && *s == '.') {
        if (++s >= p->end || *s < '0' || *s > '9')
            return false;
        while (s < p->end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s < p->end && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < p->end && (*s == '+' || *s == '-'))
            s++;
        if (s >= p->end || *s < '0' || *s > '9')
            return false;
        while (s < p->end && *s >= '0' && *s <= '9')
            s++;
    }
    p->s = s;
    return true;
}

/* jp_add - record one value at path */
static jent *jp_add(jparse *p, const char *path, char type)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->e = realloc(p->e, p->cap * sizeof(*p->e));
        assert_non_null(p->e);
    }
    snprintf(p->e[p->n].path, sizeof(p->e[p->n].path), "%s", path);
    p->e[p->n].type = type;
    p->e[p->n].val = NULL;
    p->e[p->n].len = 0;
    return &p->e[p->n++];
}

static bool jp_value(jparse *p, const char *path);

/* jp_object - members, with their paths; duplicate keys refused */
static bool jp_object(jparse *p, const char *path)
{
    size_t first;

    p->s++;
    jp_add(p, path, 'o');
    first = p->n;
    jp_ws(p);
    if (p->s < p->end && *p->s == '}') {
        p->s++;
        return true;
    }
    for (;;) {
        mv_buf key = {0};
        char sub[128];
        bool ok;

        jp_ws(p);
        ok = jp_string(p, &key);
        if (ok) {
            snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key.data ? key.data : "");
            for (size_t i = first; i < p->n; i++)
                if (strcmp(p->e[i].path, sub) == 0)
                    ok = false; /* duplicate key */
        }
        mv_buf_free(&key);
        if (!ok)
            return false;
        jp_ws(p);
        if (p->s >= p->end || *p->s++ != ':' || !jp_value(p, sub))
            return false;
        jp_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == '}') {
            p->s++;
            return true;
        }
        return false;
    }
}

/* jp_array - elements at path[i] */
static bool jp_array(jparse *p, const char *path)
{
    char sub[128];

    p->s++;
    jp_add(p, path, 'a');
    jp_ws(p);
    if (p->s < p->end && *p->s == ']') {
        p->s++;
        return true;
    }
    for (int i = 0;; i++) {
        snprintf(sub, sizeof(sub), "%s[%d]", path, i);
        if (!jp_value(p, sub))
            return false;
        jp_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == ']') {
            p->s++;
            return true;
        }
        return false;
    }
}

/* jp_lit - a literal word */
static bool jp_lit(jparse *p, const char *w)
{
    size_t n = strlen(w);

    if ((size_t)(p->end - p->s) < n || memcmp(p->s, w, n) != 0)
        return false;
    p->s += n;
    return true;
}

static bool jp_value(jparse *p, const char *path)
{
    bool ok;

    if (++p->depth > 32)
        return false;
    jp_ws(p);
    if (p->s >= p->end)
        return false;
    switch (*p->s) {
    case '{': ok = jp_object(p, path); break;
    case '[': ok = jp_array(p, path); break;
    case '"': {
        mv_buf v = {0};

        mv_buf_put(&v, "", 0);
        jent *e;

        ok = jp_string(p, &v);
        e = jp_add(p, path, 's');
        e->val = v.data;
        e->len = v.len;
        break;
    }
    case 't':
        ok = jp_lit(p, "true");
        jp_add(p, path, 't');
        break;
    case 'f':
        ok = jp_lit(p, "false");
        jp_add(p, path, 'f');
        break;
    case 'n':
        ok = jp_lit(p, "null");
        jp_add(p, path, 'z');
        break;
    default: {
        const unsigned char *s = p->s;

        ok = jp_number(p);
        if (ok)
            jp_add(p, path, 'n')->val = strndup((const char *)s, (size_t)(p->s - s));
    }
    }
    p->depth--;
    return ok;
}

/* json_parse - a whole document; false (entries freed) if not strict JSON */
static bool json_parse(const char *s, size_t len, jparse *p)
{
    *p = (jparse){(const unsigned char *)s, (const unsigned char *)s + len, NULL, 0, 0, 0};
    if (!utf8_ok(s, len) || !jp_value(p, ""))
        return false;
    jp_ws(p);
    return p->s == p->end;
}

static void json_free(jparse *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->e[i].val);
    free(p->e);
    p->e = NULL;
    p->n = 0;
}

/* jget - entry at path, or NULL */
static const jent *jget(const jparse *p, const char *path)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->e[i].path, path) == 0)
            return &p->e[i];
    return NULL;
}

/* -- the parser itself, so that it can be trusted --------------------------- */

static void test_parser_self(void **state)
{
    static const struct {
        const char *doc;
        bool ok;
    } cases[] = {
        {"{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"x\\u00e9\"}}", true},
        {"\"\\ud83d\\ude00\"", true},
        {"-0.5e+3", true},
        {"{\"a\":1,}", false},
        {"{\"a\":1,\"a\":2}", false},
        {"\"\x01\"", false},
        {"\"\\x41\"", false},
        {"\"\\ud83d\"", false},
        {"\"\xC0\x80\"", false},
        {"\"\xED\xA0\x80\"", false},
        {"01", false},
        {"{\"a\":1} x", false},
        {"\"abc", false},
        {"tru", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        jparse p;
        bool ok = json_parse(cases[i].doc, strlen(cases[i].doc), &p);

        json_free(&p);
        if (ok != cases[i].ok)
            fail_case("self-test %zu: %s: want %d", i, cases[i].doc, cases[i].ok);
    }
}

/* -- mv_json_str ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *in;
    size_t len;
    int flags;
    const char *out; /* exact output, quotes included */
} esc_case;

#define IN(s) s, sizeof(s) - 1

static const esc_case esc_cases[] = {
    {"plain", IN("jane.doe@example.com"), 0, "\"jane.doe@example.com\""},
    {"empty", IN(""), 0, "\"\""},
    {"quote", IN("a\"b"), 0, "\"a\\\"b\""},
    {"backslash", IN("a\\b"), 0, "\"a\\\\b\""},
    {"slash kept", IN("a/b"), 0, "\"a/b\""},
    {"newline", IN("a\nb"), 0, "\"a\\nb\""},
    {"cr tab", IN("\r\t"), 0, "\"\\r\\t\""},
    {"NUL in the middle", IN("a\0b"), 0, "\"a\\u0000b\""},
    {"DEL", IN("a\x7f"), 0, "\"a\\u007f\""},
    {"ESC", IN("\x1b[31m"), 0, "\"\\u001b[31m\""},
    {"C1 U+0080", IN("\xC2\x80"), 0, "\"\\u0080\""},
    {"C1 U+009F", IN("x\xC2\x9Fy"), 0, "\"x\\u009fy\""},
    {"NBSP kept raw", IN("\xC2\xA0"), 0, "\"\xC2\xA0\""},
    {"U+2028", IN("a\xE2\x80\xA8z"), 0, "\"a\\u2028z\""},
    {"U+2029", IN("\xE2\x80\xA9"), 0, "\"\\u2029\""},
    {"U+2027 kept raw", IN("\xE2\x80\xA7"), 0, "\"\xE2\x80\xA7\""},
    {"2-byte kept", IN("j\xC3\xB6rg"), 0, "\"j\xC3\xB6rg\""},
    {"3-byte kept", IN("\xE2\x82\xAC"), 0, "\"\xE2\x82\xAC\""},
    {"4-byte kept", IN("\xF0\x9F\x98\x80"), 0, "\"\xF0\x9F\x98\x80\""},
    {"U+10FFFF kept", IN("\xF4\x8F\xBF\xBF"), 0, "\"\xF4\x8F\xBF\xBF\""},
    {"U+FFFD kept", IN("\xEF\xBF\xBD"), 0, "\"\xEF\xBF\xBD\""},
    {"overlong 2-byte", IN("\xC0\x80"), 0, "\"\\ufffd\\ufffd\""},
    {"overlong C1", IN("\xC1\xBF"), 0, "\"\\ufffd\\ufffd\""},
    {"overlong 3-byte", IN("\xE0\x80\xAF"), 0, "\"\\ufffd\\ufffd\\ufffd\""},
    {"overlong 4-byte", IN("\xF0\x80\x80\xAF"), 0, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
    {"surrogate", IN("\xED\xA0\x80"), 0, "\"\\ufffd\\ufffd\\ufffd\""},
    {"above U+10FFFF", IN("\xF4\x90\x80\x80"), 0, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
    {"F5 lead", IN("\xF5"), 0, "\"\\ufffd\""},
    {"FF",
     IN("a\xFF"
        "b"),
     0, "\"a\\ufffdb\""},
    {"stray continuation",
     IN("a\x80"
        "b"),
     0, "\"a\\ufffdb\""},
    {"truncated 2 at end", IN("a\xC3"), 0, "\"a\\ufffd\""},
    {"truncated 3 at end", IN("a\xE2\x82"), 0, "\"a\\ufffd\\ufffd\""},
    {"truncated 4 at end", IN("\xF0\x9F\x98"), 0, "\"\\ufffd\\ufffd\\ufffd\""},
    {"truncated then ASCII",
     IN("\xE2\x82"
        "a"),
     0, "\"\\ufffd\\ufffda\""},
    {"bad then quote", IN("\xFF\""), 0, "\"\\ufffd\\\"\""},
    {"html off", IN("<a&b>"), 0, "\"<a&b>\""},
    {"html on", IN("<a&b>"), MV_JSON_HTML, "\"\\u003ca\\u0026b\\u003e\""},
    {"html script", IN("</script>"), MV_JSON_HTML, "\"\\u003c/script\\u003e\""},
    {"html and quote", IN("<\"&"), MV_JSON_HTML, "\"\\u003c\\\"\\u0026\""},
};

static void test_json_str_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(esc_cases) / sizeof(*esc_cases); i++) {
        const esc_case *c = &esc_cases[i];
        mv_buf b = {0};
        jparse p;
        bool ok;

        mv_buf_puts(&b, "x"); /* appends, never overwrites */
        mv_json_str(&b, c->in, c->len, c->flags);
        if (!mv_buf_ok(&b) || b.data[0] != 'x' || strcmp(b.data + 1, c->out) != 0) {
            print_error("got  %s\nwant %s\n", b.data + 1, c->out);
            mv_buf_free(&b);
            fail_case("%s", c->name);
        }
        ok = json_parse(b.data + 1, b.len - 1, &p);
        json_free(&p);
        mv_buf_free(&b);
        if (!ok)
            fail_case("%s: not strict JSON", c->name);
    }
}

/* Every C0 control: a short escape or \u00XX, never raw. */
static void test_json_str_c0(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 0x20; c++) {
        char in[3] = {'a', (char)c, 'z'}, u[16], want_short[8] = "";
        mv_buf b = {0};
        jparse p;
        bool ok;

        switch (c) {
        case '\b': strcpy(want_short, "\"a\\bz\""); break;
        case '\f': strcpy(want_short, "\"a\\fz\""); break;
        case '\n': strcpy(want_short, "\"a\\nz\""); break;
        case '\r': strcpy(want_short, "\"a\\rz\""); break;
        case '\t': strcpy(want_short, "\"a\\tz\""); break;
        }
        snprintf(u, sizeof(u), "\"a\\u%04xz\"", c);
        mv_json_str(&b, in, 3, 0);
        ok = strcmp(b.data, u) == 0 || (*want_short && strcmp(b.data, want_short) == 0);
        if (ok) {
            ok = json_parse(b.data, b.len, &p) && p.n == 1 && p.e[0].val[1] == (char)c;
            json_free(&p);
        }
        if (!ok) {
            print_error("got %s\n", b.data);
            mv_buf_free(&b);
            fail_case("control 0x%02x", c);
        }
        mv_buf_free(&b);
    }
}

/* mv_json_cstr: NULL is null; the helpers write what they say. */
static void test_json_helpers(void **state)
{
    mv_buf b = {0};

    (void)state;
    mv_json_cstr(&b, NULL, 0);
    mv_buf_putc(&b, ',');
    mv_json_cstr(&b, "a<b", MV_JSON_HTML);
    mv_buf_putc(&b, ',');
    mv_json_key(&b, "k");
    mv_json_bool(&b, true);
    mv_buf_putc(&b, ',');
    mv_json_bool(&b, false);
    assert_string_equal(b.data, "null,\"a\\u003cb\",\"k\":true,false");
    mv_buf_free(&b);
}

/* Any bytes: strict JSON, valid UTF-8, and valid UTF-8 input comes back as is. */
static void test_json_str_random(void **state)
{
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    static const char *const pieces[] = {
        "a",        "\"",           "\\",
        "\n",       "\x01",         "\x7f",
        "\xC3\xA9", "\xE2\x80\xA8", "\xF0\x9F\x98\x80",
        "\xC2\x85", "\xED\xA0\x80", "\xC0",
        "\x80",     "\xF4\x90",     "<",
        "&",        "\xE2\x82",
    };

    (void)state;
    for (int iter = 0; iter < 20000; iter++) {
        char in[64];
        size_t len = 0;
        mv_buf b = {0};
        jparse p;
        bool ok;
        int fl;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        fl = (int)(x & 1);
        if (iter % 2) {
            for (len = (x >> 8) % 40; len > 0; len--) { /* raw random bytes */
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                in[len - 1] = (char)(x >> 24);
            }
            len = (size_t)((x >> 40) % 40);
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        } else {
            for (int k = (int)((x >> 8) % 12); k > 0; k--) {
                const char *pc;

                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                pc = pieces[(x >> 20) % (sizeof(pieces) / sizeof(*pieces))];
                memcpy(in + len, pc, strlen(pc));
                len += strlen(pc);
            }
        }
        mv_json_str(&b, in, len, fl);
        ok = json_parse(b.data, b.len, &p) && p.n == 1 && p.e[0].type == 's';
        if (ok && utf8_ok(in, len)) {
            /* well-formed input decodes back to itself */
            ok = p.e[0].len == len && memcmp(p.e[0].val, in, len) == 0;
        }
        if (ok && (fl & MV_JSON_HTML))
            ok = memchr(b.data, '<', b.len) == NULL && memchr(b.data, '&', b.len) == NULL &&
                 memchr(b.data, '>', b.len) == NULL;
        json_free(&p);
        if (!ok) {
            print_error("output: %s\n", b.data);
            mv_buf_free(&b);
            fail_case("random input %d (%zu bytes, flags %d)", iter, len, fl);
        }
        mv_buf_free(&b);
    }
}

/* -- the verdict ------------------------------------------------------------------- */

static mv_engine *engine;

static int setup_engine(void **state)
{
    mv_diag d = {0};
    mv_config *cfg = mv_config_load(NULL, 0, &d);

    (void)state;
    mv_diag_clear(&d);
    if (cfg == NULL)
        return -1;
    engine = mv_engine_new(cfg);
    mv_config_unref(cfg);
    return engine ? 0 : -1;
}

static int teardown_engine(void **state)
{
    (void)state;
    mv_engine_free(engine);
    return 0;
}

/* verdict_doc - check the address, write JSON, parse it strictly */
static void verdict_doc(const char *addr, size_t len, mv_context ctx, int req_flags, int json_flags,
                        jparse *p, mv_buf *b)
{
    mv_request req = {
        .address = addr, .len = len, .context = ctx, .mode = MV_MODE_OFFLINE, .flags = req_flags};
    mv_verdict v;

    *b = (mv_buf){0};
    assert_int_equal(mv_engine_check(engine, &req, &v), MV_OK);
    mv_verdict_json(b, &v, json_flags);
    assert_true(mv_buf_ok(b));
    if (!json_parse(b->data, b->len, p)) {
        print_error("not strict JSON: %s\n", b->data);
        json_free(p);
        fail();
    }
}

/* The keys of the DESIGN.md contract, and their types. */
static const struct {
    const char *path;
    const char *types; /* allowed type letters */
} contract[] = {
    {"address", "s"},
    {"normalized", "sz"},
    {"status", "s"},
    {"reason", "s"},
    {"action", "s"},
    {"suggestion", "sz"},
    {"checks", "o"},
    {"checks.syntax", "o"},
    {"checks.syntax.valid", "tf"},
    {"checks.disposable", "tfz"},
    {"checks.role", "tfz"},
    {"checks.free", "tfz"},
    {"checks.mx", "az"},
    {"checks.smtp", "oz"},
    {"checks.catch_all", "tfz"},
    {"cached", "tf"},
    {"elapsed_ms", "n"},
};

/* check_contract - every contract key with an allowed type */
static void check_contract(const jparse *p, const char *doc)
{
    for (size_t i = 0; i < sizeof(contract) / sizeof(*contract); i++) {
        const jent *e = jget(p, contract[i].path);

        if (e == NULL || strchr(contract[i].types, e->type) == NULL) {
            print_error("document: %s\n", doc);
            fail_case("key %s: %s", contract[i].path, e ? "wrong type" : "missing");
        }
    }
}

/* expect - a value at path: "true", "false", "null", or a string's text */
static void expect(const jparse *p, const char *path, const char *want)
{
    const jent *e = jget(p, path);
    char got[64];

    if (e == NULL)
        fail_case("%s missing", path);
    switch (e->type) {
    case 't': snprintf(got, sizeof(got), "true"); break;
    case 'f': snprintf(got, sizeof(got), "false"); break;
    case 'z': snprintf(got, sizeof(got), "null"); break;
    case 's':
    case 'n': snprintf(got, sizeof(got), "%s", e->val); break;
    default: snprintf(got, sizeof(got), "(%c)", e->type); break;
    }
    if (strcmp(got, want) != 0)
        fail_case("%s: want %s, got %s", path, want, got);
}

typedef struct {
    const char *addr;
    mv_context ctx;
    struct {
        const char *path, *want;
    } kv[12];
} verdict_case;

static const verdict_case verdict_cases[] = {
    {"Jane.Doe@Gmial.com",
     MV_CTX_FORM,
     {{"address", "Jane.Doe@Gmial.com"},
      {"normalized", "Jane.Doe@gmial.com"},
      {"status", "unknown"},
      {"reason", "unverified"},
      {"action", "warn"},
      {"suggestion", "Jane.Doe@gmail.com"},
      {"checks.syntax.valid", "true"},
      {"checks.syntax.local", "Jane.Doe"},
      {"checks.syntax.domain", "gmial.com"},
      {"checks.syntax.smtputf8", "false"},
      {"checks.disposable", "false"},
      {"cached", "false"}}},
    {"info@mailinator.com",
     MV_CTX_FORM,
     {{"status", "risky"},
      {"reason", "disposable"},
      {"action", "block"},
      {"checks.disposable", "true"},
      {"checks.role", "true"},
      {"suggestion", "null"}}},
    {"a@@b.example",
     MV_CTX_RECIPIENT,
     {{"normalized", "null"},
      {"status", "undeliverable"},
      {"reason", "invalid_syntax"},
      {"action", "block"},
      {"checks.syntax.valid", "false"},
      {"checks.disposable", "null"},
      {"checks.role", "null"},
      {"checks.free", "null"}}},
    {"<>",
     MV_CTX_SENDER,
     {{"normalized", "<>"},
      {"reason", "null_sender"},
      {"status", "unknown"},
      {"action", "accept"},
      {"checks.syntax.valid", "true"}}},
    {"j\xC3\xB6rg@B\xC3\xBC"
     "cher.de",
     MV_CTX_BULK,
     {{"address", "j\xC3\xB6rg@B\xC3\xBC"
                  "cher.de"},
      {"normalized", "j\xC3\xB6rg@xn--bcher-kva.de"},
      {"checks.syntax.smtputf8", "true"},
      {"checks.syntax.domain", "xn--bcher-kva.de"},
      {"suggestion", "null"}}},
    {"\"we\\\"ird\x01\"@example.com",
     MV_CTX_FORM,
     {{"reason", "invalid_syntax"}, {"checks.syntax.valid", "false"}}},
    {"\xFF\xFE@\xC0\x80.com",
     MV_CTX_FORM,
     {{"address", "\xEF\xBF\xBD\xEF\xBF\xBD@\xEF\xBF\xBD\xEF\xBF\xBD.com"}, {"reason", "invalid_syntax"}}},
    {"jane@gmail",
     MV_CTX_FORM,
     {{"reason", "invalid_syntax"}, {"suggestion", "jane@gmail.com"}, {"action", "block"}}},
};

static void test_verdict_json_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(verdict_cases) / sizeof(*verdict_cases); i++) {
        const verdict_case *c = &verdict_cases[i];
        jparse p;
        mv_buf b;

        verdict_doc(c->addr, strlen(c->addr), c->ctx, 0, 0, &p, &b);
        check_contract(&p, b.data);
        assert_null(jget(&p, "address_truncated"));
        assert_null(jget(&p, "canonical"));
        for (size_t k = 0; k < 12 && c->kv[k].path; k++) {
            const jent *e = jget(&p, c->kv[k].path);
            bool ok = e != NULL;

            if (ok && e->type == 's')
                ok = strcmp(e->val, c->kv[k].want) == 0;
            else if (ok)
                ok = strcmp(c->kv[k].want, e->type == 't'   ? "true"
                                           : e->type == 'f' ? "false"
                                           : e->type == 'z' ? "null"
                                                            : "?") == 0;
            if (!ok) {
                print_error("document: %s\n", b.data);
                json_free(&p);
                mv_buf_free(&b);
                fail_case("%s: %s: want %s", c->addr, c->kv[k].path, c->kv[k].want);
            }
        }
        json_free(&p);
        mv_buf_free(&b);
    }
}

/* MV_REQ_CANONICAL adds "canonical"; MV_JSON_HTML leaves no raw < > &. */
static void test_verdict_json_flags(void **state)
{
    static const char addr[] = "J.Doe+news<&>@GoogleMail.com";
    static const char canon[] = "J.Doe+news@GoogleMail.com";
    jparse p;
    mv_buf b;

    (void)state;
    verdict_doc(canon, strlen(canon), MV_CTX_BULK, MV_REQ_CANONICAL, 0, &p, &b);
    check_contract(&p, b.data);
    expect(&p, "canonical", "jdoe@gmail.com");
    json_free(&p);
    mv_buf_free(&b);

    verdict_doc(addr, strlen(addr), MV_CTX_FORM, 0, MV_JSON_HTML, &p, &b);
    check_contract(&p, b.data);
    expect(&p, "address", addr);
    assert_null(memchr(b.data, '<', b.len));
    assert_null(memchr(b.data, '>', b.len));
    assert_null(memchr(b.data, '&', b.len));
    json_free(&p);
    mv_buf_free(&b);
}

/* A 1 MB input: echo cut at MV_ECHO_MAX, flagged, still valid JSON. */
static void test_verdict_json_huge(void **state)
{
    size_t n = 1 << 20;
    char *big = malloc(n), len[32];
    const jent *e;
    jparse p;
    mv_buf b;

    (void)state;
    assert_non_null(big);
    memset(big, 'a', n);
    big[n / 2] = '@';
    verdict_doc(big, n, MV_CTX_FORM, 0, 0, &p, &b);
    check_contract(&p, b.data);
    assert_true(b.len < 8192);
    e = jget(&p, "address");
    assert_int_equal(strlen(e->val), MV_ECHO_MAX);
    assert_memory_equal(e->val, big, MV_ECHO_MAX);
    expect(&p, "address_truncated", "true");
    snprintf(len, sizeof(len), "%zu", n);
    expect(&p, "address_length", len);
    expect(&p, "reason", "invalid_syntax");
    json_free(&p);
    mv_buf_free(&b);

    /* three-byte characters: the cut falls inside one; still valid UTF-8 */
    for (size_t i = 0; i + 3 <= n; i += 3)
        memcpy(big + i, "\xE2\x82\xAC", 3);
    verdict_doc(big, n, MV_CTX_FORM, 0, 0, &p, &b);
    check_contract(&p, b.data);
    expect(&p, "address_truncated", "true");
    e = jget(&p, "address");
    assert_true(utf8_ok(e->val, strlen(e->val)));
    assert_memory_equal(e->val, big, MV_ECHO_MAX / 3 * 3);
    json_free(&p);
    mv_buf_free(&b);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parser_self),        cmocka_unit_test(test_json_str_table),
        cmocka_unit_test(test_json_str_c0),        cmocka_unit_test(test_json_helpers),
        cmocka_unit_test(test_json_str_random),    cmocka_unit_test(test_verdict_json_cases),
        cmocka_unit_test(test_verdict_json_flags), cmocka_unit_test(test_verdict_json_huge),
    };

    return cmocka_run_group_tests(tests, setup_engine, teardown_engine);
}
