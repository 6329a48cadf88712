# SPDX-License-Identifier: MIT
# Makefile - build, test, install and demonstrate mailverify.
#
#   make              build everything (-Wall -Wextra -Werror; WERROR=0: without -Werror)
#   make demo         build, then show verdicts on instructive addresses
#   make check        install missing Debian packages, build, run every test
#                     (NO_DEPS=1: never call apt; missing packages are an error)
#   make check SANITIZE=1   the same under ASan+UBSan (build-san/)
#   make fuzz         libFuzzer targets (clang), FUZZ_SECONDS each
#   make fuzz-pass    mutated forms through pass-through to real handlers for FUZZ_PASS_SECONDS (300);
#                     smuggling cases in tests/passdiff/found/
#   make bench-offline      offline throughput against two peers
#   make bench-engine       the network path in the test world, next to Postfix's verify(8)
#   make bench-milter       mailverifyd behind a real Postfix, driven by smtp-source
#   make bench-fastcgi      mailverify.fcgi behind nginx (wrk), next to a static file
#   make bench-cold         only the cold starts: check --offline next to curl --version,
#                           a CGI request next to a shell CGI (COLD_N=50 each, a few seconds)
#   make bench-cache        cached-verdict lookups: memory vs LMDB; two processes sharing a store
#   make bench-redis        the Redis client's pipelined lookups on loopback (redis-server)
#   make bench-fleet        smtp.fleet's cost to a bulk run: addresses/s and Redis commands, off and on
#   make bench-bulk         mailverify bulk on 100,000 addresses in the test world, next to deep-email-validator
#                           (FLEET=1: also with the Redis cache, and as a --fleet job with 2 workers)
#   make bench-replies      the reply rules on a corpus of real SMTP replies: accuracy, false undeliverables
#   make soak         mail through Postfix + mailverifyd for SOAK_MINUTES (20) under injected faults
#   make install PREFIX=/usr/local DESTDIR=
#   make check-package      build the Debian packages (debian/) in build/pkg, lintian, check their contents
#   make check-package-install  the built packages unpacked (dpkg-deb -x) into a temporary root:
#                           the unit's ExecStart, behind a test Postfix, refuses an unknown recipient
#   make deps         the Debian packages for build and tests (apt, skipped if present)
#
# CPPFLAGS, CFLAGS and LDFLAGS from the environment or the command line are
# used as given (dpkg-buildflags: _FORTIFY_SOURCE comes in CPPFLAGS); CFLAGS
# replaces only the default "-O2 -g", never the warnings or the defines.

PREFIX ?= /usr/local
# the web plugin's form script and demo page
WWWDIR ?= $(DATADIR)/www
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)/mailverify
DATADIR ?= $(PREFIX)/share/mailverify
MANDIR ?= $(PREFIX)/share/man
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system

SANITIZE ?=
B := build$(if $(SANITIZE),-san)
CC ?= cc
OPT ?= $(if $(SANITIZE),-O1,-O2)
comma := ,
SANFLAGS := $(if $(SANITIZE),-fsanitize=address$(comma)undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
# -Werror in development and CI; distributions build with WERROR=0, as a
# newer compiler's new warning must not break a package build
WERROR ?= 1
WARN := -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS ?= $(OPT) -g
ALL_CFLAGS = -std=gnu11 -pthread $(WARN) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) -D_GNU_SOURCE -Imilter/core -MMD -MP \
	-DMV_SYSCONFDIR='"$(SYSCONFDIR)"' -DMV_HAVE_HIREDIS
# libidn2 too is dlopen()ed (idnload.h): its headers only, for the constants
PKGS := libconfig libcares
# recursive (=): evaluated when a recipe runs, after `make deps` installed them
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) openssl libidn2)
# libcurl and OpenSSL are not linked: the core dlopen()s them at their
# first use (curlload.h, sslload.h), their headers only compiled against;
# -ldl for that (part of libc since glibc 2.34, a separate library before)
PKG_LIBS = $(shell pkg-config --libs $(PKGS)) -lhiredis -llmdb -ldl
LDFLAGS_ALL = -pthread $(SANFLAGS) $(LDFLAGS)

CORE_SRC := $(wildcard milter/core/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o) $(B)/milter/core/builtin_S.o
CORE_LIB := $(B)/libmvcore.a
CLI_SRC := $(wildcard milter/cli*.c) milter/mailverify.c
# the CLI's config-test knows every program's keys, as postconf knows every
# Postfix daemon's: from a copy of their key tables generated at build time
# (tools/mkkeys.c), so that it links no code of the daemon's or the plugin's
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o) $(B)/tables/keys.o
MILTER_SRC := milter/mailverifyd.c milter/milter.c milter/milter_config.c milter/replies.c milter/dha.c \
	milter/stats.c milter/policyreq.c milter/policyd.c milter/notify.c milter/metricsd.c
MILTER_OBJ := $(MILTER_SRC:%.c=$(B)/%.o)
FCGI_SRC := $(wildcard plugins/fastcgi/*.c)
FCGI_OBJ := $(FCGI_SRC:%.c=$(B)/%.o)
BLOBS := etc/replies.conf $(wildcard etc/lists/*.txt)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

.PHONY: all demo check check-unit check-cli check-world deps deps-bench deps-fuzz fuzz fuzz-pass bench-offline bench-cold bench-engine bench-milter bench-fastcgi bench-bulk bench-redis bench-fleet bench-cache bench-replies soak install check-package check-package-install clean lists

all: $(B)/mailverify $(B)/mailverifyd $(B)/mailverify.fcgi

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

# the shipped config and lists are embedded (builtin.S uses .incbin), and
# the lists also as set images that need no parsing (tools/mktables.c)
$(B)/milter/core/builtin_S.o: milter/core/builtin.S $(BLOBS) $(B)/tables/stamp
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@ -Wa,-I,etc -Wa,-I,$(B)/tables

# mktables loads the lists with the program's own loaders, so an image is
# the set the text would have built at run time
TABLE_TXT := $(addprefix etc/lists/,disposable.txt disposable-wildcards.txt free.txt role.txt tlds.txt)
MKTABLES_OBJ := $(addprefix $(B)/milter/core/,lists.o strset.o typo.o address.o idnload.o utf8.o diag.o slurp.o)
$(B)/mktables: tools/mktables.c $(MKTABLES_OBJ)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -o $@ $< $(MKTABLES_OBJ) $(PKG_LIBS) $(LDFLAGS_ALL)

# the canonical rules' defaults are the shipped file's `canonical` list,
# embedded alone: a load without one parses these 15 lines, not the file
$(B)/tables/stamp: $(B)/mktables $(TABLE_TXT) etc/mailverify.conf
	@mkdir -p $(@D)
	$(B)/mktables etc/lists $(@D)
	awk '/^canonical = \(/ { on = 1 } on { print } on && /^\);/ { n++; exit } END { exit n != 1 }' \
	  etc/mailverify.conf > $(@D)/canonical.conf
	@touch $@

# mkkeys links the front ends' tables at build time only, and writes them
# out as data for the CLI (it refuses a table whose check is code)
KEYS_OBJ := $(B)/milter/milter_config.o $(B)/plugins/fastcgi/fcgi_config.o
$(B)/mkkeys: tools/mkkeys.c $(KEYS_OBJ) $(CORE_LIB)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -Imilter -Iplugins/fastcgi -o $@ $< $(KEYS_OBJ) $(CORE_LIB) $(PKG_LIBS) $(LDFLAGS_ALL)

$(B)/tables/keys.c: $(B)/mkkeys
	@mkdir -p $(@D)
	$(B)/mkkeys $@

$(B)/tables/keys.o: $(B)/tables/keys.c
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# bulk posts its completion through the core's webhook sender (libcurl,
# loaded when the first event is sent)
$(B)/mailverify: $(CLI_OBJ) $(CORE_LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(CORE_LIB) $(PKG_LIBS)

$(B)/mailverifyd: $(MILTER_OBJ) $(CORE_LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(MILTER_OBJ) $(CORE_LIB) $(PKG_LIBS) -lmilter

$(B)/plugins/fastcgi/%.o: ALL_CFLAGS += -Iplugins/fastcgi
$(B)/mailverify.fcgi: $(FCGI_OBJ) $(CORE_LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(FCGI_OBJ) $(CORE_LIB) $(PKG_LIBS) -lfcgi -lm

# the milter's parts that need no libmilter, for unit tests
MILTER_LIB := $(B)/libmvmilter.a
$(MILTER_LIB): $(B)/milter/replies.o $(B)/milter/dha.o $(B)/milter/stats.o $(B)/milter/milter_config.o \
	$(B)/milter/policyreq.o $(B)/milter/notify.o
	rm -f $@
	$(AR) rcs $@ $^

# the web plugin's parsers and token buckets (no libfcgi), for unit tests
PLUGIN_LIB := $(B)/libmvplugin.a
$(PLUGIN_LIB): $(B)/plugins/fastcgi/fcgi_config.o $(B)/plugins/fastcgi/formparse.o $(B)/plugins/fastcgi/ratelimit.o $(B)/plugins/fastcgi/passform.o $(B)/plugins/fastcgi/passhdr.o
	rm -f $@
	$(AR) rcs $@ $^

# the fleet bulk job's wire forms live in the CLI (milter/cli_bulk_fcodec.c)
$(B)/tests/test_fcodec: tests/unit/test_fcodec.c tests/unit/unit.h $(B)/milter/cli_bulk_fcodec.o $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Imilter -o $@ $< $(B)/milter/cli_bulk_fcodec.o $(CORE_LIB) $(PKG_LIBS) -lcmocka -lm $(LDFLAGS_ALL)

$(B)/tests/%: tests/unit/%.c tests/unit/unit.h $(CORE_LIB) $(MILTER_LIB) $(PLUGIN_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Imilter -Iplugins/fastcgi -o $@ $< $(PLUGIN_LIB) $(MILTER_LIB) $(CORE_LIB) $(PKG_LIBS) -lcmocka -lm $(LDFLAGS_ALL)

# NO_DEPS=1: tools/deps and tools/sendmail-pkg never call apt (a package
# build, an admin's machine); what is missing is an error
NO_DEPS ?= 0
export NO_DEPS
deps:
	@tools/deps build test

deps-bench:
	@tools/deps bench

check: deps
	@$(MAKE) --no-print-directory check-unit check-cli check-world

# the systemd units (etc/): systemd-analyze verify and security; exit 77
# (no systemd-analyze) is reported as NOT RUN, never as passed
check-unit: $(UNIT_BIN) $(B)/mailverify $(B)/mailverifyd $(B)/mailverify.fcgi
	@tests/check-spdx
	@tests/check-symbols $(CORE_LIB) $(MILTER_LIB) $(PLUGIN_LIB)
	@tests/check-boundaries $(B)
	@tests/check-format
	@tests/check-units $(B) || { rc=$$?; [ $$rc -eq 77 ] && echo "check-units: NOT RUN (see above)"; [ $$rc -eq 77 ]; }
	@tests/in-netns tests/run-unit $(UNIT_BIN)

check-cli: $(B)/mailverify
	@MAILVERIFY=$(B)/mailverify SANITIZE=$(SANITIZE) tests/in-netns /usr/bin/python3 tests/cli/test_cli.py

# the loopback test world (unbound, Postfix, scripted servers) and the
# engine's end-to-end tests against it; mailverifyd behind a real Sendmail
# (fetched outside the namespace) and driven by miltertest
check-world: $(B)/mailverify $(B)/mvload $(B)/mailverifyd $(B)/mailverify.fcgi
	@tools/deps world sendmail miltertest web browser
	@tools/sendmail-pkg build/sendmail-pkg
	@tools/playwright-pkg build/npm
	@tests/in-netns /usr/bin/python3 tests/world/test_world.py
	@MAILVERIFY=$(B)/mailverify tests/in-netns /usr/bin/python3 tests/world/test_verify.py
	@MAILVERIFY=$(B)/mailverify tests/in-netns /usr/bin/python3 tests/world/test_dns_faults.py
	@MAILVERIFY=$(B)/mailverify SANITIZE=$(SANITIZE) tests/in-netns /usr/bin/python3 tests/world/test_bulk.py
	@MAILVERIFY=$(B)/mailverify MAILVERIFYD=$(B)/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_providers.py
	@MVLOAD=$(B)/mvload tests/in-netns /usr/bin/python3 tests/world/test_etiquette.py
	@MVLOAD=$(B)/mvload tests/in-netns /usr/bin/python3 tests/world/test_dns_burst.py
	@MAILVERIFYD=$(B)/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_milter.py
	@MAILVERIFYD=$(B)/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_policy.py
	@MAILVERIFYD=$(B)/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_notify.py
	@MAILVERIFY=$(B)/mailverify MAILVERIFYD=$(B)/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_daemon_metrics.py
	@MAILVERIFYD=$(B)/mailverifyd MAILVERIFY_FCGI=$(B)/mailverify.fcgi tests/in-netns /usr/bin/python3 tests/world/test_dashboard.py
	@MAILVERIFYD=$(B)/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_incident_log.py
	@MAILVERIFYD=$(B)/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_sendmail.py
	@MAILVERIFYD=$(B)/mailverifyd tests/in-netns tests/milter/run
	@MAILVERIFYD=$(B)/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_snippets.py
	@MAILVERIFY_FCGI=$(B)/mailverify.fcgi tests/in-netns /usr/bin/python3 tests/world/test_fastcgi.py
	@MAILVERIFY_FCGI=$(B)/mailverify.fcgi timeout 90 tests/in-netns /usr/bin/python3 tests/world/test_hostage.py
	@MAILVERIFY_FCGI=$(B)/mailverify.fcgi MAILVERIFY=$(B)/mailverify tests/in-netns /usr/bin/python3 tests/world/test_webhook_pass.py
	@MAILVERIFY_FCGI=$(B)/mailverify.fcgi tests/in-netns /usr/bin/python3 tests/web/test_browser.py
	@MAILVERIFY=$(B)/mailverify MAILVERIFYD=$(B)/mailverifyd MAILVERIFY_FCGI=$(B)/mailverify.fcgi tests/in-netns /usr/bin/python3 tests/world/test_cache_shared.py
	@MAILVERIFY=$(B)/mailverify MAILVERIFYD=$(B)/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_cache_redis.py
	@# smtp.fleet: limits and back-offs shared through Redis (about 20 s; budget 120 s, ASan too)
	@MAILVERIFY=$(B)/mailverify MAILVERIFYD=$(B)/mailverifyd timeout 120 tests/in-netns /usr/bin/python3 tests/world/test_fleet.py
	@# bulk --fleet/--worker: one job over several processes and one redis-server (well under 150 s)
	@MAILVERIFY=$(B)/mailverify timeout 150 tests/in-netns /usr/bin/python3 tests/world/test_fleet_bulk.py
	@MAILVERIFY=$(B)/mailverify MAILVERIFYD=$(B)/mailverifyd tests/in-netns /usr/bin/python3 tests/world/test_recovery.py
	@# pass-through against three real form handlers: no value may get by the plugin (about 50 s)
	@MAILVERIFY_FCGI=$(B)/mailverify.fcgi tests/in-netns /usr/bin/python3 tests/passdiff/run.py

demo: deps all
	@tools/deps world web
	@tests/demo $(B)/mailverify

FUZZ_SECONDS ?= 60
FUZZ_PASS_SECONDS ?= 300
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
build-fuzz/builtin_S.o: milter/core/builtin.S $(BLOBS) $(B)/tables/stamp
	@mkdir -p build-fuzz
	clang -c $< -o $@ -Wa,-I,etc -Wa,-I,$(B)/tables

build-fuzz/%: tests/fuzz/%.c $(CORE_SRC) build-fuzz/builtin_S.o
	clang -std=gnu11 -g -O1 -pthread -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -DMV_HAVE_HIREDIS -Imilter/core \
	  -o $@ $< $(CORE_SRC) $(FUZZ_EXTRA) build-fuzz/builtin_S.o $(PKG_LIBS)

# the web plugin's parsers
build-fuzz/fuzz_config: FUZZ_EXTRA := -Imilter -Iplugins/fastcgi milter/milter_config.c plugins/fastcgi/fcgi_config.c
build-fuzz/fuzz_config: milter/milter_config.c plugins/fastcgi/fcgi_config.c
build-fuzz/fuzz_form: FUZZ_EXTRA := -Iplugins/fastcgi plugins/fastcgi/formparse.c
build-fuzz/fuzz_form: plugins/fastcgi/formparse.c plugins/fastcgi/formparse.h
build-fuzz/fuzz_passform: FUZZ_EXTRA := -Iplugins/fastcgi plugins/fastcgi/passform.c plugins/fastcgi/passhdr.c plugins/fastcgi/formparse.c
build-fuzz/fuzz_passform: plugins/fastcgi/passform.c plugins/fastcgi/passform.h plugins/fastcgi/passhdr.c plugins/fastcgi/passhdr.h plugins/fastcgi/formparse.c

# the policy listener's request parser
build-fuzz/fuzz_policyreq: FUZZ_EXTRA := -Imilter milter/policyreq.c
build-fuzz/fuzz_policyreq: milter/policyreq.c milter/policyreq.h

# the fleet bulk job's wire forms (stream entries and results read back from Redis)
build-fuzz/fuzz_fleet: FUZZ_EXTRA := -Imilter milter/cli_bulk_fcodec.c
build-fuzz/fuzz_fleet: milter/cli_bulk_fcodec.c milter/cli_bulk_fleet.h

deps-fuzz:
	@tools/deps build fuzz

fuzz: deps-fuzz $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	  n=$$(basename $$t); mkdir -p build-fuzz/corpus-$$n; \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build-fuzz/corpus-$$n tests/fuzz/seed-$${n#fuzz_} || exit 1; \
	done

# pass-through's differential fuzzer: mutated forms through mailverify.fcgi
# to Python's cgi, CGI.pm and PHP (tests/passdiff/run.py --fuzz)
fuzz-pass: $(B)/mailverify.fcgi
	@tools/deps world web
	@MAILVERIFY_FCGI=$(B)/mailverify.fcgi tests/in-netns /usr/bin/python3 tests/passdiff/run.py --fuzz $(FUZZ_PASS_SECONDS)

bench-offline: deps deps-bench all $(B)/bench_offline
	@tests/bench/bench-cold $(B) offline
	@tests/bench/bench-offline $(B)

bench-cold: deps $(B)/mailverify $(B)/mailverify.fcgi
	@tests/bench/bench-cold $(B)

$(B)/bench_offline: tests/bench/bench_offline.c $(CORE_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(CORE_LIB) $(PKG_LIBS) $(LDFLAGS_ALL)

# the engine's network path in the loopback test world, next to Postfix's verify(8)
bench-engine: deps $(B)/mvload
	@tools/deps world
	@tests/in-netns /usr/bin/python3 tests/bench/bench-engine $(B)

# mailverifyd behind a real Postfix in the test world, driven by smtp-source,
# next to no milter, a milter that does nothing and a trivial Python milter
bench-milter: deps $(B)/mailverifyd $(B)/mailverify $(B)/nullmilter
	@tools/deps world milterpeer
	@tests/in-netns /usr/bin/python3 tests/bench/bench-milter $(B)

# mailverify.fcgi behind nginx on cached verdicts, next to nginx's static
# file, a FastCGI responder that does nothing, and a cold CGI request
bench-fastcgi: deps $(B)/mailverify.fcgi $(B)/nullfcgi
	@tools/deps world web
	@tests/bench/bench-cold $(B) cgi
	@tests/in-netns /usr/bin/python3 tests/bench/bench-fastcgi $(B)

# mailverify bulk on 100,000 addresses over 1,000 domains in the test world,
# next to npm's deep-email-validator (fetched outside the namespace);
# FLEET=1: also one process with cache.store = "redis", and a --fleet job
# with two --worker processes (addresses/s, Redis commands per address)
FLEET ?= 0
bench-bulk: deps $(B)/mailverify
	@tools/deps world
	@command -v node >/dev/null 2>&1 || tools/deps npm   # nodesource's nodejs brings npm; Debian's needs it
	@tools/deep-email-validator-pkg build/npm-dev
	@FLEET=$(FLEET) tests/in-netns /usr/bin/python3 tests/bench/bench-bulk $(B)

# the verdict cache's stores: lookups/s and p99, memory vs LMDB vs Redis
# (a redis-server on loopback, hence the namespace), and the hit rate of
# two processes sharing one store vs two memory caches
bench-cache: deps $(B)/bench_cache $(B)/bench_redis
	@tests/in-netns tests/bench/bench-cache $(B)

$(B)/bench_cache: tests/bench/bench_cache.c tests/bench/share_stream.h $(CORE_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(CORE_LIB) $(PKG_LIBS) -lm $(LDFLAGS_ALL)

# the Redis client (milter/core/redis.c): pipelined GETs against a
# redis-server it starts on loopback
# smtp.fleet's cost to one bulk run: addresses/s and Redis commands, fleet off and on
bench-fleet: deps $(B)/mailverify
	@tools/deps world
	@tests/in-netns /usr/bin/python3 tests/bench/bench-fleet $(B)

bench-redis: deps $(B)/bench_redis
	@tests/in-netns $(B)/bench_redis

$(B)/bench_redis: tests/bench/bench_redis.c tests/bench/share_stream.h $(CORE_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(CORE_LIB) $(PKG_LIBS) -lm $(LDFLAGS_ALL)

# the reply rules (etc/replies.conf) on tests/cases/replies.tsv, real replies
# of providers, gateways and MTAs: accuracy with no table, with the previous
# commit's table and with the shipped one; nothing touches the network
bench-replies: deps $(B)/bench_replies
	@tests/bench/bench-replies $(B)

$(B)/bench_replies: tests/bench/bench_replies.c tests/bench/replies_corpus.h $(CORE_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(CORE_LIB) $(PKG_LIBS) $(LDFLAGS_ALL)

# a soak (not part of check): mail through the test world's front Postfix and
# mailverifyd for SOAK_MINUTES while faults are injected (daemon killed, DNS
# down, an MX dead, a tarpit, greylisting, reloads good and broken, Redis
# killed with SOAK_STORE=redis); every message accounted for
SOAK_MINUTES ?= 20
SOAK_STORE ?= lmdb
soak: deps $(B)/mailverifyd
	@tools/deps world
	@SOAK_MINUTES=$(SOAK_MINUTES) SOAK_STORE=$(SOAK_STORE) MAILVERIFYD=$(B)/mailverifyd \
	  tests/in-netns /usr/bin/python3 tests/soak/soak.py

$(B)/nullfcgi: tests/bench/nullfcgi.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< -lfcgi $(LDFLAGS_ALL)

$(B)/nullmilter: tests/bench/nullmilter.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< -lmilter $(LDFLAGS_ALL)

# load driver: many addresses through mv_engine_submit, latencies and rates
$(B)/mvload: tests/bench/mvload.c $(CORE_LIB)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -o $@ $< $(CORE_LIB) $(PKG_LIBS) $(LDFLAGS_ALL)

lists:
	tools/gen-lists

# everything the README runs: the three programs, the config (0640: it may
# hold redis_password, webhook.secret, api_keys; group mailverify when that
# group exists and no DESTDIR is given -- a package sets it in postinst),
# never overwritten; the lists, the reply rules, the web plugin's form
# script and demo page (WWWDIR), the man pages, and every systemd unit in
# etc/ with its paths changed to the installed ones
UNITS := $(wildcard etc/*.service etc/*.socket)
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR) \
	  $(DESTDIR)$(DATADIR)/lists $(DESTDIR)$(WWWDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(B)/mailverify $(DESTDIR)$(BINDIR)/mailverify
	install -m 755 $(B)/mailverify.fcgi $(DESTDIR)$(BINDIR)/mailverify.fcgi
	install -m 755 $(B)/mailverifyd $(DESTDIR)$(SBINDIR)/mailverifyd
	test -e $(DESTDIR)$(SYSCONFDIR)/mailverify.conf || \
	  install -m 640 etc/mailverify.conf $(DESTDIR)$(SYSCONFDIR)/mailverify.conf
	@if [ -z "$(DESTDIR)" ] && getent group mailverify >/dev/null; then \
	  echo "chgrp mailverify $(SYSCONFDIR)/mailverify.conf"; chgrp mailverify $(SYSCONFDIR)/mailverify.conf; fi
	install -m 644 etc/lists/*.txt etc/lists/README $(DESTDIR)$(DATADIR)/lists/
	install -m 644 etc/replies.conf $(DESTDIR)$(DATADIR)/replies.conf
	install -m 644 plugins/fastcgi/www/mailverify.js plugins/fastcgi/www/demo.html \
	  plugins/fastcgi/www/demo.css plugins/fastcgi/www/README $(DESTDIR)$(WWWDIR)/
	install -m 644 docs/mailverify.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 docs/mailverify.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 docs/mailverifyd.8 docs/mailverify.fcgi.8 $(DESTDIR)$(MANDIR)/man8/
	install -d $(DESTDIR)$(SYSTEMDDIR)
	for u in $(UNITS); do \
	  sed -e 's|/usr/sbin/mailverifyd|$(SBINDIR)/mailverifyd|g' \
	      -e 's|/usr/bin/mailverify|$(BINDIR)/mailverify|g' \
	      -e 's|/etc/mailverify/mailverify.conf|$(SYSCONFDIR)/mailverify.conf|g' \
	      $$u > $(DESTDIR)$(SYSTEMDDIR)/$${u#etc/} && \
	  chmod 644 $(DESTDIR)$(SYSTEMDDIR)/$${u#etc/} || exit 1; \
	done

# the Debian packages (debian/), built from a copy of the tracked files in
# build/pkg/src so that dpkg-buildpackage's output (it writes into the
# parent directory) stays in build/pkg; no tests in there (nocheck: make
# check ran them), then lintian and the packages' contents
# (tests/check-package). Its build packages come through tools/deps.
check-package:
	@tools/deps package build
	@tests/check-package build/pkg

# after check-package: its .debs unpacked with dpkg-deb -x into a temporary
# directory (never installed, nothing written outside it), mailverifyd
# started with the unit's own ExecStart= line and the installed config
# changed only for loopback, behind a real Postfix with the README's
# snippet: 550 5.1.1 for an unknown recipient (tests/world/test_package_install.py)
check-package-install:
	@tools/deps world
	@tests/in-netns /usr/bin/python3 tests/world/test_package_install.py build/pkg

clean:
	rm -rf build build-san build-fuzz

-include $(CORE_OBJ:.o=.d) $(B)/mktables.d $(CLI_OBJ:.o=.d) $(MILTER_OBJ:.o=.d) $(FCGI_OBJ:.o=.d)
