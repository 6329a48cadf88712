/* SPDX-License-Identifier: MIT */
/*
 * config_policy.c - the policy groups of the configuration.
 *
 * policy.<context>.<reason|free|suggestion|default> = "<action>". Phase 2
 * checks the names (contexts, reasons, signals, with a "did you mean")
 * and types; phase 3 the actions, and refuses "suggestion = block": a
 * typo suggestion is advice and never blocks on its own.
 */
#include "config_int.h"

#include <string.h>

/* policy_names - every name a policy context may set */
static size_t policy_names(const char **out)
{
    size_t n = 0;

    for (int r = 0; r < MV_R_COUNT; r++)
        out[n++] = mv_reason_name((mv_reason)r);
    out[n++] = "free";
    out[n++] = "suggestion";
    out[n++] = "default";
    return n;
}

/* mv_config_policy_check - structure of the policy group */
void mv_config_policy_check(loader *L, const config_setting_t *g)
{
    const char *names[MV_R_COUNT + 3];
    size_t nn = policy_names(names);

    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *c = config_setting_get_elem(g, (unsigned)i);
        const char *cn = config_setting_name(c);

        if (mv_context_lookup(cn) < 0) {
            mv_config_error(
                L, c, "unknown policy context 'policy.%s' (contexts: sender, recipient, form, bulk)", cn);
            continue;
        }
        if (config_setting_type(c) != CONFIG_TYPE_GROUP) {
            mv_config_error(L, c, "'policy.%s' must be a group { }, not %s", cn,
                            mv_config_type_name(config_setting_type(c)));
            continue;
        }
        for (int j = 0; j < config_setting_length(c); j++) {
            const config_setting_t *e = config_setting_get_elem(c, (unsigned)j);
            const char *en = config_setting_name(e), *best;
            size_t k;

            for (k = 0; k < nn && strcmp(names[k], en) != 0; k++)
                ;
            if (k == nn) {
                best = mv_config_did_you_mean(en, names, nn);
                mv_config_error(L, e, "unknown reason or signal 'policy.%s.%s'%s%s%s", cn, en,
                                best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
            } else if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                mv_config_error(
                    L, e,
                    "'policy.%s.%s' must be an action string (accept, warn, review, tempfail, block), not %s",
                    cn, en, mv_config_type_name(config_setting_type(e)));
            }
        }
    }
}

/* action_of - an action name, or -1 with an error */
static int action_of(loader *L, const config_setting_t *e, const char *ctx)
{
    static const char *const acts[] = {"accept", "warn", "review", "tempfail", "block"};
    const char *v = config_setting_get_string(e);
    int a = mv_action_lookup(v);
    const char *best;

    if (a < 0) {
        best = mv_config_did_you_mean(v, acts, 5);
        mv_config_error(
            L, e, "'policy.%s.%s': \"%s\" is not an action (accept, warn, review, tempfail, block)%s%s%s",
            ctx, config_setting_name(e), v, best ? "; did you mean \"" : "", best ? best : "",
            best ? "\"?" : "");
    }
    return a;
}

/* apply_context - one policy.<context> group */
static void apply_context(loader *L, const config_setting_t *g, mv_context ctx)
{
    mv_policy *p = &L->cfg->policy[ctx];
    const char *cn = mv_context_name(ctx);
    const config_setting_t *d = config_setting_get_member(g, "default");
    int a;

    if (d != NULL && config_setting_type(d) == CONFIG_TYPE_STRING && (a = action_of(L, d, cn)) >= 0) {
        for (int r = 0; r < MV_R_COUNT; r++)
            if (config_setting_get_member(g, mv_reason_name((mv_reason)r)) == NULL)
                p->reason[r] = (mv_action)a;
    }
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *e = config_setting_get_elem(g, (unsigned)i);
        const char *en = config_setting_name(e);
        int r = mv_reason_lookup(en);

        if (config_setting_type(e) != CONFIG_TYPE_STRING || strcmp(en, "default") == 0)
            continue;
        if (r < 0 && strcmp(en, "free") != 0 && strcmp(en, "suggestion") != 0)
            continue; /* reported in phase 2 */
        if ((a = action_of(L, e, cn)) < 0)
            continue;
        if (r >= 0)
            p->reason[r] = (mv_action)a;
        else if (strcmp(en, "free") == 0)
            p->free_provider = (mv_action)a;
        else if (a == MV_ACT_BLOCK)
            mv_config_error(L, e,
                            "'policy.%s.suggestion' cannot be \"block\": a typo suggestion "
                            "is advice and never blocks on its own (use warn or review)",
                            cn);
        else
            p->suggestion = (mv_action)a;
    }
}

/* mv_config_policy_apply - every policy.<context> group */
void mv_config_policy_apply(loader *L, const config_setting_t *g)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *c = config_setting_get_elem(g, (unsigned)i);
        int ctx = mv_context_lookup(config_setting_name(c));

        if (ctx >= 0 && config_setting_type(c) == CONFIG_TYPE_GROUP)
            apply_context(L, c, (mv_context)ctx);
    }
}
