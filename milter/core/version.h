/* SPDX-License-Identifier: MIT */
/*
 * version.h - the version every program reports, and where the installed
 * configuration lives (the Makefile passes MV_SYSCONFDIR from SYSCONFDIR).
 */
#ifndef MV_VERSION_H
#define MV_VERSION_H

#define MV_VERSION "0.1.0"

#ifndef MV_SYSCONFDIR
#define MV_SYSCONFDIR "/etc/mailverify"
#endif

#endif
