/* SPDX-License-Identifier: MIT */
/*
 * builtin.S - embed the shipped config and lists (see builtin.h).
 * Paths are found through the assembler's include path (-Wa,-I...): the
 * text files from etc/, the set images (*.set) from what tools/mktables
 * made of the lists, canonical.conf the shipped mailverify.conf's
 * `canonical` list (the Makefile cuts it out: the one default that is
 * not a key's). Images need 8-byte alignment; every blob has 16.
 * Each blob is followed by a NUL so that it can also be used as a string.
 */
#define BLOB(sym, file)         \
    .globl sym;                 \
    .balign 16;                 \
sym:                            \
    .incbin file;               \
    .globl sym##_end;           \
sym##_end:                      \
    .byte 0

    .section .rodata
BLOB(mv_blob_canonical, "canonical.conf")
BLOB(mv_blob_disposable, "lists/disposable.txt")
BLOB(mv_blob_disposable_wildcards, "lists/disposable-wildcards.txt")
BLOB(mv_blob_free, "lists/free.txt")
BLOB(mv_blob_role, "lists/role.txt")
BLOB(mv_blob_providers, "lists/providers.txt")
BLOB(mv_blob_tlds, "lists/tlds.txt")
BLOB(mv_blob_replies, "replies.conf")
BLOB(mv_blob_disposable_set, "disposable.set")
BLOB(mv_blob_disposable_wildcards_set, "disposable-wildcards.set")
BLOB(mv_blob_free_set, "free.set")
BLOB(mv_blob_role_set, "role.set")
BLOB(mv_blob_tlds_set, "tlds.set")

    .section .note.GNU-stack,"",@progbits
