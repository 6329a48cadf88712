/* SPDX-License-Identifier: MIT */
/*
 * policy.c - built-in policy tables and the decision.
 *
 * The defaults are safe out of the box (DESIGN.md): what is certainly
 * undeliverable is blocked where a sender or user can still act, anything
 * the engine could not find out (unknown) is accepted -- fail open -- and
 * risky signals warn rather than block, except disposable addresses at a
 * signup form, which is what a form owner installs this for. Sender
 * checks block only on a domain that cannot receive mail (a bounce could
 * never be delivered), as Postfix's reject_unknown_sender_domain does.
 */
#include "policy.h"

/* set - one reason's action */
static void set(mv_policy *p, mv_reason r, mv_action a)
{
    p->reason[r] = a;
}

/* undeliverable - block what cannot be delivered */
static void undeliverable(mv_policy *p, mv_action a)
{
    set(p, MV_R_INVALID_SYNTAX, a);
    set(p, MV_R_INVALID_DOMAIN, a);
    set(p, MV_R_NO_MAIL_SERVER, a);
    set(p, MV_R_REJECTED_EMAIL, a);
    set(p, MV_R_MAILBOX_DISABLED, a);
}

/* mv_policy_defaults - the built-in table of a context */
void mv_policy_defaults(mv_policy *p, mv_context ctx)
{
    for (int r = 0; r < MV_R_COUNT; r++)
        p->reason[r] = MV_ACT_ACCEPT;
    p->free_provider = MV_ACT_ACCEPT;
    p->suggestion = MV_ACT_ACCEPT;
    switch (ctx) {
    case MV_CTX_SENDER:
        set(p, MV_R_INVALID_SYNTAX, MV_ACT_BLOCK);
        set(p, MV_R_INVALID_DOMAIN, MV_ACT_BLOCK);
        set(p, MV_R_NO_MAIL_SERVER, MV_ACT_BLOCK);
        break;
    case MV_CTX_RECIPIENT:
        undeliverable(p, MV_ACT_BLOCK);
        set(p, MV_R_MAILBOX_FULL, MV_ACT_TEMPFAIL);
        break;
    case MV_CTX_FORM:
        undeliverable(p, MV_ACT_BLOCK);
        set(p, MV_R_DISPOSABLE, MV_ACT_BLOCK);
        set(p, MV_R_MAILBOX_FULL, MV_ACT_WARN);
        set(p, MV_R_ACCEPT_ALL, MV_ACT_WARN);
        set(p, MV_R_ROLE_ACCOUNT, MV_ACT_WARN);
        p->suggestion = MV_ACT_WARN;
        break;
    case MV_CTX_BULK:
        undeliverable(p, MV_ACT_BLOCK);
        set(p, MV_R_DISPOSABLE, MV_ACT_REVIEW);
        set(p, MV_R_MAILBOX_FULL, MV_ACT_REVIEW);
        set(p, MV_R_ACCEPT_ALL, MV_ACT_REVIEW);
        set(p, MV_R_ROLE_ACCOUNT, MV_ACT_REVIEW);
        p->suggestion = MV_ACT_WARN;
        break;
    default: break;
    }
}

/* most - the more severe of two actions */
static mv_action most(mv_action a, mv_action b)
{
    return a > b ? a : b;
}

/* mv_policy_decide - the action for a verdict under this table */
mv_action mv_policy_decide(const mv_policy *p, const mv_verdict *v)
{
    mv_action a = p->reason[v->reason];

    if (v->free)
        a = most(a, p->free_provider);
    if (v->has_suggestion)
        a = most(a, p->suggestion);
    return a;
}
