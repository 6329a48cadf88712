/* SPDX-License-Identifier: MIT */
/*
 * net_int.h - the network half's insides, shared by net.c (jobs, domains,
 * DNS, the API) and net_session.c (MX hosts, sessions, scheduling).
 * Loop thread only, like everything in them. Not for other modules.
 */
#ifndef MV_NET_INT_H
#define MV_NET_INT_H

#include "dict.h"
#include "net.h"

#include <arpa/inet.h>
#include <sys/queue.h>
#include <stdatomic.h>

#define MAX_TARGETS (MV_MX_MAX * MV_ADDRS_PER_HOST)

typedef struct waiter {
    mv_net_cb cb;
    void *arg;
    SLIST_ENTRY(waiter) link; /* in its job's waiters */
} waiter;

typedef struct domain domain;
typedef struct job job;

struct job {
    mv_net *n;
    char key[MV_MAILBOX_MAX + 310];
    char mailbox[MV_MAILBOX_MAX + 1];
    char domain[256];
    char hop[300]; /* next hop instead of MX, or "" */
    bool smtp, smtputf8, tls_off, background;
    unsigned grey_round;          /* re-probes after greylisting so far */
    int64_t grey_first;           /* when it was first greylisted (unix s), or 0 */
    unsigned temp_retries;        /* whole MX walks retried after a busy refusal */
    SLIST_HEAD(, waiter) waiters; /* every caller waiting for the answer */
    domain *d;
    size_t target;         /* next target to try */
    unsigned sid;          /* the last session that asked for it (traces) */
    TAILQ_ENTRY(job) link; /* in the domain's DNS wait list or queue */
    mv_net_outcome out;
    mv_timer timer; /* background re-probe delay */
};

typedef struct {
    size_t host; /* index in mx.hosts */
    size_t addr; /* index in that host's addresses */
} target;

struct domain {
    mv_net *n;
    char key[560]; /* name, or name|next-hop */
    char name[256];
    char hop[300]; /* the configured next hop, or "" */
    unsigned port;
    mv_mx_result mx;
    bool mx_known, dns_inflight;
    uint64_t mx_expires_ms;
    target targets[MAX_TARGETS];
    size_t ntargets, nprivate;
    TAILQ_HEAD(job_list, job) dns_wait; /* waiting for the MX answer */
    struct job_list queue;              /* waiting for a session */
    size_t jobs;                        /* jobs attached (waiting or in a session) */
    unsigned active;                    /* sessions open */
    mv_timer retry;                     /* limits said "later" */
    int catch_all;                      /* learned: 1, 0, -1 unknown */
    uint64_t refuses_until_ms;          /* blocked us: leave alone until then */
    TAILQ_ENTRY(domain) idle_link;      /* in the net's idle list, when idle */
    bool idle;
    unsigned pins;                       /* a callback is using it: don't free */
    mv_lease_ask *ask;                   /* smtp.fleet: a lease asked for (the domain is pinned meanwhile) */
    mv_lease_hold *grant;                /* ... granted, for the next session to take */
    bool local_once;                     /* ... Redis did not answer: the next session by local limits */
    char ask_host[INET6_ADDRSTRLEN + 8]; /* the MX address asked for */
};

typedef struct {
    char key[INET6_ADDRSTRLEN + 8];
    unsigned active;
    double tokens;
    uint64_t refill_ms;
    uint64_t backoff_until_ms;
    unsigned backoff_level;   /* failures in a row: the next back-off doubles */
    mv_reason backoff_reason; /* timeout (tarpit, silence) or blocked_by_server */
    uint64_t retry_at_ms;     /* a connection limit or busy refusal: not before */
    uint64_t failed_at_ms;    /* when the back-off in force began */
    uint64_t check_at_ms;     /* while backing off: let one session ask then */
    bool checking;            /* ... and it is under way */
    unsigned cap;             /* sessions it allows us (0: the limit in force) */
    mv_fault fault;           /* failing (events): since when, what it cost */
    char name[256];           /* the MX name it was last asked as (events) */
    char cause[160];          /* why it fails, for the summary */
} host;

typedef struct session {
    mv_net *n;
    domain *d;
    host *h;
    unsigned id; /* "sN" in traces */
    size_t target;
    job *jobs[MV_PROBE_RCPT_MAX];
    size_t njobs;
    bool tls_off;
    bool blocked; /* an RCPT reply named our IP, reputation or rate */
    uint64_t started_ms;
    mv_lease_hold *lease; /* smtp.fleet: this session's lease, or NULL */
    mv_probe *probe;
    LIST_ENTRY(session) open_link; /* every open session, for shutdown */
} session;

struct mv_net {
    mv_loop *loop;
    mv_dns *dns;
    mv_net_params p;
    char helo[256], from[256], fallback[256];
    mv_dict *jobs, *domains, *hosts;
    mv_dict *waiting;                   /* background re-probes waiting for their time */
    TAILQ_HEAD(idle_list, domain) idle; /* idle domains, most recent first */
    size_t nidle;
    atomic_size_t sessions; /* read by other threads for metrics */
    LIST_HEAD(, session) open;
    bool closing;
    const mv_rules *rules_local, *rules_table; /* reply rules (mv_net_set_rules) */
    unsigned session_seq;                      /* the last session's id */
    char resolver[120];                        /* for event lines */
    mv_dns_watch dns_watch;                    /* the resolver's faults */
    mv_incident_period period;                 /* what faults cost since the last summary */
    unsigned faults;                           /* hosts failing, and the resolver if it is */
    mv_timer summary;                          /* armed while a fault lasts */
    atomic_ullong errors[MV_NETERR_COUNT];     /* failures by cause, read by other threads */
};

/* mv_net_incident_stop - at shutdown: no more summaries */
void mv_net_incident_stop(mv_net *n);

/* mv_net_host_failing - a session with h (asked as MX mx) failed for cause;
 * left alone for backoff_ms (0: not). One line when its fault starts */
void mv_net_host_failing(mv_net *n, host *h, const char *mx, const char *cause, uint64_t backoff_ms);

/* mv_net_session_failed - a probe session ended with status (not DONE,
 * not CANCELLED): counted by cause */
void mv_net_session_failed(mv_net *n, mv_probe_status status);

/* mv_net_host_answers - a good session with h: the end of its fault, if any */
void mv_net_host_answers(mv_net *n, host *h);

/* mv_net_host_without - count requests that did without the failing host h */
void mv_net_host_without(mv_net *n, host *h, unsigned long count);

/* mv_net_backoff_answer - a request answered r (timeout, blocked_by_server)
 * because every MX host of its domain was left alone */
void mv_net_backoff_answer(mv_net *n, mv_reason r);

/* mv_net_dns_result - a lookup for name ended: the resolver's watch */
void mv_net_dns_result(mv_net *n, const char *name, const mv_mx_result *res);

/* mv_net_trace - a trace line about domain d, in session sid (0: none);
 * nothing is formatted without a sink */
void mv_net_trace(const domain *d, unsigned sid, const char *fmt, ...) __attribute__((format(printf, 3, 4)));


/* mv_net_set_outcome - fill a job's reason and detail */
void mv_net_set_outcome(job *j, mv_reason r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* mv_net_complete - a job's one ending: store, answer every waiter, free */
void mv_net_complete(job *j);

/* mv_net_save_facts - tell the other processes what d taught us */
void mv_net_save_facts(mv_net *n, domain *d);


/* mv_net_unpin - a callback is done with d */
void mv_net_unpin(domain *d);

/* mv_net_fleet_drop - d goes or the net closes: its lease asked for or granted is let go */
void mv_net_fleet_drop(domain *d);

/* mv_net_schedule - start what sessions the limits allow; wait for the rest */
void mv_net_schedule(domain *d);

/* mv_net_schedule_arrival - a job joined d's queue: schedule now or gather */
void mv_net_schedule_arrival(domain *d);

/* mv_net_reprobe_later - a background copy of a greylisted job, after seconds */
void mv_net_reprobe_later(job *j, unsigned seconds);

#endif
