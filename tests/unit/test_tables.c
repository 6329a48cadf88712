/* SPDX-License-Identifier: MIT */
/*
 * test_tables.c - the compiled list images answer exactly as the text does.
 *
 * The build turns the shipped lists into set images (tools/mktables.c)
 * and the built-in configuration uses those instead of parsing the text.
 * These tests load each shipped list's text the old way and check, for
 * every list, that the image holds the same number of entries and every
 * entry of the text, and that a sample of non-entries is not found; and
 * that a view cannot be damaged by adding to it (it is copied first), a
 * corrupt image is refused, and the built-in configuration, SIGUSR1's
 * reload path, gives the same signals as the text lists.
 */
#include "unit.h"

#include "builtin.h"
#include "config.h"
#include "lists.h"
#include "strset.h"
#include "typo.h"

typedef struct {
    const char *file;  /* the text, embedded */
    const char *image; /* its image, embedded */
    int kind;          /* mv_list_kind, or -2 for the TLDs */
} table;

static const table tables[] = {
    {"disposable.txt", "disposable.set", MV_LIST_DISPOSABLE},
    {"disposable-wildcards.txt", "disposable-wildcards.set", MV_LIST_DISPOSABLE_WILDCARD},
    {"free.txt", "free.set", MV_LIST_FREE},
    {"role.txt", "role.set", MV_LIST_ROLE},
    {"tlds.txt", "tlds.set", -2},
};

/* in_image - mv_strset_each callback: is the key in the set at arg? */
static int in_image(const char *key, size_t len, void *arg)
{
    if (!mv_strset_has(arg, key, len)) {
        print_error("not in the image: %.*s\n", (int)len, key);
        return 1;
    }
    return 0;
}

/* set_of - the text's set, or the image's, of one table */
static const mv_strset *set_of(const table *tb, const mv_lists *l, const mv_typo *t)
{
    return tb->kind == -2 ? mv_typo_tlds(t) : mv_lists_set(l, (mv_list_kind)tb->kind);
}

/* load_both - one table from text into tl/tt, from its image into il/it */
static void load_both(const table *tb, mv_lists *tl, mv_typo *tt, mv_lists *il, mv_typo *it)
{
    mv_blob text = mv_builtin(tb->file), img = mv_builtin(tb->image);
    mv_diag d = {0};

    assert_non_null(text.data);
    assert_non_null(img.data);
    if (tb->kind == -2) {
        assert_int_equal(mv_typo_load_tlds(tt, text.data, text.len, tb->file, &d), 0);
        assert_int_equal(mv_typo_use_tlds_image(it, img.data, img.len), 0);
    } else {
        assert_int_equal(mv_lists_load_text(tl, (mv_list_kind)tb->kind, text.data, text.len, tb->file, &d),
                         0);
        assert_int_equal(mv_lists_use_image(il, (mv_list_kind)tb->kind, img.data, img.len), 0);
    }
    assert_int_equal(d.count, 0);
}

/* Every entry of every shipped list is in its image, and nothing more. */
static void test_images_hold_every_entry(void **state)
{
    static const char *const absent[] = {
        "example.com",
        "example.org",
        "gmail.co",
        "mailinator.comm",
        "x",
        "",
        "postmaster.example",
        "jane.doe",
        "zz",
        "com.",
        ".com",
        "notatld",
        "a.b.c.d.e.example",
    };
    mv_lists *tl = mv_lists_new(), *il = mv_lists_new();
    mv_typo *tt = mv_typo_new(), *it = mv_typo_new();

    (void)state;
    assert_non_null(tl);
    assert_non_null(il);
    assert_non_null(tt);
    assert_non_null(it);
    for (size_t i = 0; i < sizeof(tables) / sizeof(*tables); i++) {
        const table *tb = &tables[i];
        const mv_strset *text, *img;

        load_both(tb, tl, tt, il, it);
        text = set_of(tb, tl, tt);
        img = set_of(tb, il, it);
        if (mv_strset_count(text) < 300 || mv_strset_count(img) != mv_strset_count(text))
            fail_case("%s: %zu entries as text, %zu in the image", tb->file, mv_strset_count(text),
                      mv_strset_count(img));
        if (mv_strset_each(text, in_image, (void *)img) != 0)
            fail_case("%s: an entry is missing from the image", tb->file);
        for (size_t k = 0; k < sizeof(absent) / sizeof(*absent); k++)
            if (mv_strset_has(text, absent[k], strlen(absent[k])) !=
                mv_strset_has(img, absent[k], strlen(absent[k])))
                fail_case("%s: \"%s\" answered differently", tb->file, absent[k]);
    }
    mv_lists_free(tl);
    mv_lists_free(il);
    mv_typo_free(tt);
    mv_typo_free(it);
}

/* mutate - a string near key that is rarely a list entry: one byte off */
static size_t mutate(const char *key, size_t len, char *out)
{
    memcpy(out, key, len);
    out[len / 2] = out[len / 2] == 'q' ? 'z' : 'q';
    return len;
}

/* Near misses (each entry with one byte changed) get the text's answer. */
static int near_miss(const char *key, size_t len, void *arg)
{
    const mv_strset *const *sets = arg;
    char buf[MV_STRSET_KEY_MAX + 1];
    size_t n;

    if (len == 0)
        return 0;
    n = mutate(key, len, buf);
    if (mv_strset_has(sets[0], buf, n) != mv_strset_has(sets[1], buf, n)) {
        print_error("answered differently: %.*s\n", (int)n, buf);
        return 1;
    }
    return 0;
}

static void test_images_refuse_non_entries(void **state)
{
    mv_lists *tl = mv_lists_new(), *il = mv_lists_new();
    mv_typo *tt = mv_typo_new(), *it = mv_typo_new();

    (void)state;
    assert_non_null(tl);
    assert_non_null(il);
    assert_non_null(tt);
    assert_non_null(it);
    for (size_t i = 0; i < sizeof(tables) / sizeof(*tables); i++) {
        const mv_strset *sets[2];

        load_both(&tables[i], tl, tt, il, it);
        sets[0] = set_of(&tables[i], tl, tt);
        sets[1] = set_of(&tables[i], il, it);
        if (mv_strset_each(sets[0], near_miss, sets) != 0)
            fail_case("%s: a near miss answered differently", tables[i].file);
    }
    mv_lists_free(tl);
    mv_lists_free(il);
    mv_typo_free(tt);
    mv_typo_free(it);
}

/* Roles through the lists API: the filter is rebuilt for an image. */
static void test_image_roles(void **state)
{
    static const struct {
        const char *local;
        bool role;
    } cases[] = {
        {"postmaster", true}, {"Info+news", true}, {"INFO", true},
        {"jane.doe", false},  {"2020", false},     {"", false},
    };
    mv_blob img = mv_builtin("role.set");
    mv_lists *l = mv_lists_new();

    (void)state;
    assert_non_null(l);
    assert_int_equal(mv_lists_use_image(l, MV_LIST_ROLE, img.data, img.len), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
        if (mv_lists_role(l, cases[i].local, strlen(cases[i].local)) != cases[i].role)
            fail_case("%s: role %d", cases[i].local, !cases[i].role);
    /* an image goes only into an empty list */
    assert_int_equal(mv_lists_use_image(l, MV_LIST_ROLE, img.data, img.len), -2);
    mv_lists_free(l);
}

/* Adding to a view copies it first: the image itself is never written. */
static void test_view_copy_on_add(void **state)
{
    mv_blob img = mv_builtin("free.set");
    mv_strset *v = mv_strset_view(img.data, img.len);
    size_t n;

    (void)state;
    assert_non_null(v);
    n = mv_strset_count(v);
    assert_true(mv_strset_has(v, "gmail.com", 9));
    assert_int_equal(mv_strset_add(v, "gmail.com", 9), 0);
    assert_int_equal(mv_strset_add(v, "new.example", 11), 1);
    for (int i = 0; i < 2000; i++) { /* past a regrowth */
        char k[32];

        snprintf(k, sizeof(k), "k%d.example", i);
        assert_int_equal(mv_strset_add(v, k, strlen(k)), 1);
    }
    assert_int_equal(mv_strset_count(v), n + 2001);
    assert_true(mv_strset_has(v, "gmail.com", 9));
    assert_true(mv_strset_has(v, "k1999.example", 13));
    mv_strset_free(v);
    /* the image is unchanged: a fresh view does not have the new key */
    v = mv_strset_view(img.data, img.len);
    assert_non_null(v);
    assert_int_equal(mv_strset_count(v), n);
    assert_false(mv_strset_has(v, "new.example", 11));
    mv_strset_free(v);
}

/* A short, misaligned or altered image is refused, not trusted. */
static void test_bad_images(void **state)
{
    mv_blob img = mv_builtin("role.set");
    char *copy = malloc(img.len + 8);
    uint64_t *aligned;

    (void)state;
    assert_non_null(copy);
    aligned = (uint64_t *)(void *)(((uintptr_t)copy + 7) & ~(uintptr_t)7);
    memcpy(aligned, img.data, img.len);
    assert_non_null(img.data);
    assert_null(mv_strset_view(img.data, img.len - 1));
    assert_null(mv_strset_view(img.data, 16));
    assert_null(mv_strset_view((const char *)aligned + 1, img.len - 1));
    ((char *)aligned)[0] ^= 1; /* magic */
    assert_null(mv_strset_view(aligned, img.len));
    ((char *)aligned)[0] ^= 1;
    ((char *)aligned)[8] ^= 1; /* the hash check */
    assert_null(mv_strset_view(aligned, img.len));
    ((char *)aligned)[8] ^= 1;
    {
        mv_strset *v = mv_strset_view(aligned, img.len);

        assert_non_null(v);
        mv_strset_free(v);
    }
    free(copy);
}

/* The built-in config (what a start and a reload load) uses the images
 * and answers as the text does, with no diagnostics. */
static void test_builtin_config_uses_images(void **state)
{
    mv_diag d = {0};
    mv_config *cfg = mv_config_load(NULL, 0, &d);
    mv_lists *tl = mv_lists_new();
    mv_typo *tt = mv_typo_new();
    const mv_lists *l;

    (void)state;
    assert_non_null(cfg);
    assert_non_null(tl);
    assert_non_null(tt);
    assert_int_equal(d.count, 0);
    l = mv_config_lists(cfg);
    for (size_t i = 0; i < sizeof(tables) / sizeof(*tables); i++) {
        const table *tb = &tables[i];
        mv_blob text = mv_builtin(tb->file);

        if (tb->kind == -2)
            continue;
        assert_int_equal(mv_lists_load_text(tl, (mv_list_kind)tb->kind, text.data, text.len, tb->file, &d),
                         0);
        assert_int_equal(mv_lists_count(l, (mv_list_kind)tb->kind),
                         mv_lists_count(tl, (mv_list_kind)tb->kind));
        if (mv_strset_each(mv_lists_set(tl, (mv_list_kind)tb->kind), in_image,
                           (void *)mv_lists_set(l, (mv_list_kind)tb->kind)) != 0)
            fail_case("%s: the built-in config lacks an entry", tb->file);
    }
    assert_true(mv_lists_disposable(l, "sub.mailinator.com", 18) ==
                mv_lists_disposable(tl, "sub.mailinator.com", 18));
    assert_true(mv_lists_free_provider(l, "gmail.com", 9));
    assert_true(mv_lists_role(l, "postmaster", 10));
    mv_lists_free(tl);
    mv_typo_free(tt);
    mv_config_unref(cfg);
    mv_diag_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_images_hold_every_entry),
        cmocka_unit_test(test_images_refuse_non_entries),
        cmocka_unit_test(test_image_roles),
        cmocka_unit_test(test_view_copy_on_add),
        cmocka_unit_test(test_bad_images),
        cmocka_unit_test(test_builtin_config_uses_images),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
