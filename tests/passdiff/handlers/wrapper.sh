#!/bin/sh
# SPDX-License-Identifier: MIT
# wrapper.sh - the pass-through target: one CGI script that runs the three
# legacy handlers (Python cgi.FieldStorage, Perl CGI.pm, PHP) on the same
# body and the same CGI environment, and answers with their three outputs.
#
# It logs "ran CASE" (CASE from the X-Case request header, HTTP_X_CASE)
# to $PASSDIFF_LOG before anything else: that, not the status code, is how
# the harness knows a handler ran; the combined answer is also saved as
# $PASSDIFF_RESULTS/CASE. PASSDIFF_LOG, PASSDIFF_RESULTS and PASSDIFF_FIELDS
# are written into a copy of this script by the harness (the plugin passes
# the script only the request's variables).
PASSDIFF_LOG=${PASSDIFF_LOG:-@LOG@}
PASSDIFF_RESULTS=${PASSDIFF_RESULTS:-@RESULTS@}
PASSDIFF_FIELDS=${PASSDIFF_FIELDS:-@FIELDS@}
here=${0%/*}
# (few processes of its own: on a 2-core machine the handlers are the cost)
case=${HTTP_X_CASE:--}
case $case in *[!A-Za-z0-9._-]*|.*) case=bad-case-id ;; esac
echo "ran $case" >> "$PASSDIFF_LOG"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/passdiff.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
if [ -n "${CONTENT_LENGTH:-}" ]; then head -c "$CONTENT_LENGTH" > "$tmp/body"; else : > "$tmp/body"; fi
# what the handlers' reading depends on: the harness reuses the reads of a
# request handed on unchanged instead of running the handlers on it again
{
    printf 'method=%s\nquery=%s\nctype=%s\ncookie=%s\nlength=%s\nbody=' "${REQUEST_METHOD-}" \
        "${QUERY_STRING-}" "${CONTENT_TYPE-(unset)}" "${HTTP_COOKIE-(unset)}" "${CONTENT_LENGTH-(unset)}"
    sha=$(sha256sum < "$tmp/body")
    echo "${sha%% *}"
} > "$tmp/env"
oldifs=$IFS; IFS=,
# shellcheck disable=SC2086
set -- $PASSDIFF_FIELDS
IFS=$oldifs
fields="$*"
export TMPDIR="$tmp" PASSDIFF_FIELDS
# shellcheck disable=SC2086
PASSDIFF_OUT="$tmp/python" /usr/bin/python3 -W ignore "$here/fs.py" $fields < "$tmp/body" > /dev/null 2> "$tmp/python.err" &
# shellcheck disable=SC2086
PASSDIFF_OUT="$tmp/perl" /usr/bin/perl "$here/cgipm.pl" $fields < "$tmp/body" > /dev/null 2> "$tmp/perl.err" &
PASSDIFF_OUT="$tmp/php" REDIRECT_STATUS=1 SCRIPT_FILENAME="$here/php.php" \
    /usr/bin/php-cgi -d upload_tmp_dir="$tmp" -d display_errors=0 -d error_log=/dev/null \
    < "$tmp/body" > /dev/null 2> "$tmp/php.err" &
wait
{
    printf '['
    sep=""
    for h in python perl php; do
        printf '%s' "$sep"
        if [ -s "$tmp/$h" ]; then cat "$tmp/$h"
        else printf '{"handler": "%s", "error": "no output", "fields": {}}' "$h"; fi
        sep=", "
    done
    printf ']\n'
} > "$tmp/all"
if [ -d "$PASSDIFF_RESULTS" ]; then
    cp "$tmp/env" "$PASSDIFF_RESULTS/$case.env"
    cp "$tmp/all" "$PASSDIFF_RESULTS/$case.tmp" && mv "$PASSDIFF_RESULTS/$case.tmp" "$PASSDIFF_RESULTS/$case"
fi
printf 'Content-Type: application/json\r\nX-Passdiff: ran\r\n\r\n'
cat "$tmp/all"
