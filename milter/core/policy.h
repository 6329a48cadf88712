/* SPDX-License-Identifier: MIT */
/*
 * policy.h - verdict x context -> action.
 *
 * Each context (sender, recipient, form, bulk) has a table: an action per
 * reason, plus actions for two signals that are not reasons -- a free
 * provider and a typo suggestion. The action taken is the most severe that
 * applies (accept < warn < review < tempfail < block). A suggestion alone
 * can never block: the config loader refuses "suggestion = block".
 */
#ifndef MV_POLICY_H
#define MV_POLICY_H

#include "verdict.h"

typedef struct {
    mv_action reason[MV_R_COUNT];
    mv_action free_provider;
    mv_action suggestion;
} mv_policy;

/* mv_policy_defaults - the built-in table of a context */
void mv_policy_defaults(mv_policy *p, mv_context ctx);

/* mv_policy_decide - the action for a verdict under this table */
mv_action mv_policy_decide(const mv_policy *p, const mv_verdict *v);

#endif
