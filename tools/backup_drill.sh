#!/usr/bin/env bash
# Backup and restore drill for mianshen on PostgreSQL (docs/audit.md, "Backups and restore").
#
#   tools/backup_drill.sh [--dir DIR] [--keep] [drill]        back up, then restore-check the new dump
#   tools/backup_drill.sh [--dir DIR] backup                  an audit checkpoint, then pg_dump into DIR
#   tools/backup_drill.sh [--keep] restore-check DUMP         restore DUMP into a scratch database and check it
#
# backup         `mianshen audit checkpoint` (the head goes to the checkpoint file outside the database), then
#                `pg_dump --format=custom` into DIR (default ./var/backups): the dump holds the checkpoint's event.
# restore-check  creates a new database on the same server (<name>_drill_<time>_<pid>), `pg_restore`s DUMP into
#                it and, against the copy:
#                  1. `mianshen audit verify` against a copy of the live checkpoint file: exit 0, or it names the
#                     events the restore lost (checkpoints written after the dump name seqs the copy lacks);
#                  2. `mianshen reconcile`: the money identity holds to the fen;
#                  3. `mianshen worker --burst`: every job the backup left queued runs, and ends done.
#                The copy's jobs see an empty bank exchange folder of their own (never the banks' real one), its
#                checkpoints go to the copy of the file. The scratch database and folder are removed at the end
#                (--keep leaves both, and prints where they are).
#
# Environment: MIANSHEN_DATABASE_URL (postgresql://user[:password]@host[:port]/name, required);
#   MIANSHEN_AUDIT_CHECKPOINT_FILE (the live checkpoint file; default ${MIANSHEN_VAR_DIR:-./var}/audit-checkpoints.jsonl,
#   as mianshen itself); MIANSHEN (the mianshen command, default `mianshen`); MIANSHEN_DRILL_ADMIN_URL (where the
#   scratch database is created and dropped; default the server's `postgres` database).
# Needs the PostgreSQL client tools (psql, pg_dump, pg_restore) of the server's major version or newer.
# Exit: 0 the drill passed; 1 the restored copy failed a check (the failing line is printed); 2 bad usage or
# environment, or the dump or restore itself failed.

set -euo pipefail

say() { printf 'drill: %s\n' "$*"; }
die() { printf 'backup_drill: %s\n' "$1" >&2; exit "${2:-2}"; }
usage() { die "usage: tools/backup_drill.sh [--dir DIR] [--keep] [drill | backup | restore-check DUMP]"; }

dir="${PWD}/var/backups"
keep=0
action=drill
dump=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) [ $# -ge 2 ] || usage; dir="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        drill | backup) action="$1"; shift ;;
        restore-check) [ $# -ge 2 ] || usage; action="$1"; dump="$2"; shift 2 ;;
        -h | --help) sed -n '2,29p' "$0"; exit 0 ;;
        *) usage ;;
    esac
done

url="${MIANSHEN_DATABASE_URL:-}"
case "$url" in
    postgres://* | postgresql://*) ;;
    *) die "MIANSHEN_DATABASE_URL must name a PostgreSQL database (postgresql://...), not '${url}'" ;;
esac
for tool in psql pg_dump pg_restore; do
    command -v "$tool" >/dev/null || die "$tool not found: install the PostgreSQL client tools"
done
mianshen="${MIANSHEN:-mianshen}"
command -v "$mianshen" >/dev/null || die "the mianshen command was not found (set MIANSHEN=/path/to/mianshen)"
checkpoints="${MIANSHEN_AUDIT_CHECKPOINT_FILE:-${MIANSHEN_VAR_DIR:-${PWD}/var}/audit-checkpoints.jsonl}"

base="${url%%\?*}"           # postgresql://user@host:port/name
query="${url#"$base"}"       # ?sslmode=... (or nothing)
server="${base%/*}"
name="${base##*/}"
[ -n "$name" ] && [ "$server" != "$base" ] || die "no database name in MIANSHEN_DATABASE_URL"
admin_url="${MIANSHEN_DRILL_ADMIN_URL:-${server}/postgres${query}}"

backup() {
    mkdir -p "$dir"
    local out stamp
    out="$("$mianshen" audit checkpoint)" || die "mianshen audit checkpoint failed" 1
    say "$out"
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    dump="${dir}/${name}-${stamp}.dump"
    pg_dump --format=custom --file="$dump" "$url" || die "pg_dump failed"
    say "backup written to $dump ($(du -h "$dump" | cut -f1))"
}

scratch=""
work=""
cleanup() {
    if [ "$keep" = 1 ]; then
        [ -n "$scratch" ] && say "kept: database $scratch, folder $work"
        return
    fi
    if [ -n "$scratch" ]; then
        psql "$admin_url" -qAtX -v ON_ERROR_STOP=1 \
            -c "DROP DATABASE IF EXISTS \"${scratch}\" WITH (FORCE)" >/dev/null || true
    fi
    [ -n "$work" ] && rm -rf "$work"
}
trap cleanup EXIT

# Run mianshen against the restored copy, with its own checkpoint file, bank folder and var directory.
on_copy() {
    env -u MIANSHEN_CRASH_AT -u MIANSHEN_CRASH_MODE \
        MIANSHEN_DATABASE_URL="$scratch_url" \
        MIANSHEN_AUDIT_CHECKPOINT_FILE="${work}/audit-checkpoints.jsonl" \
        MIANSHEN_AUDIT_CHECKPOINT_EVERY=0 \
        MIANSHEN_BANK_DIR="${work}/bank" \
        MIANSHEN_VAR_DIR="${work}/var" \
        "$mianshen" "$@"
}

sql_on_copy() { psql "$scratch_url" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

restore_check() {
    [ -f "$dump" ] || die "no dump at $dump"
    scratch="$(printf '%s' "${name:0:30}" | tr -c 'a-zA-Z0-9_' '_' | tr '[:upper:]' '[:lower:]')"
    scratch="${scratch}_drill_$(date -u +%Y%m%d%H%M%S)_$$"
    scratch_url="${server}/${scratch}${query}"
    work="$(mktemp -d "${TMPDIR:-/tmp}/mianshen-drill.XXXXXX")"
    psql "$admin_url" -qAtX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"${scratch}\"" >/dev/null \
        || die "cannot create the scratch database $scratch"
    pg_restore --exit-on-error --no-owner --dbname="$scratch_url" "$dump" || die "pg_restore of $dump failed"
    say "restored $dump into $scratch"
    if [ -f "$checkpoints" ]; then
        cp "$checkpoints" "${work}/audit-checkpoints.jsonl"
    fi

    local out pending failed
    if ! out="$(on_copy audit verify --quiet)"; then
        say "$out"
        die "the restored copy does not verify against the checkpoint file $checkpoints" 1
    fi
    say "$out"
    if ! out="$(on_copy reconcile)"; then
        printf '%s\n' "$out" | sed 's/^/drill: /'
        die "reconcile on the restored copy does not hold" 1
    fi
    say "$(printf '%s\n' "$out" | tail -n 1)"
    pending="$(sql_on_copy "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM core_job WHERE status = 'queued'")"
    on_copy worker --burst 2>&1 | sed 's/^/drill: worker: /'
    if [ -n "$pending" ]; then
        failed="$(sql_on_copy "SELECT count(*) FROM core_job WHERE id IN (${pending}) AND status <> 'done'")"
        [ "$failed" = 0 ] || die "$failed of the job(s) the backup left queued (${pending}) did not end done" 1
        say "worker resumed the queued job(s) ${pending}: all done"
    else
        say "worker: no job was queued in the backup"
    fi
    say "passed: $dump restores, verifies, reconciles and resumes its jobs"
}

case "$action" in
    backup) backup ;;
    restore-check) restore_check ;;
    drill) backup; restore_check ;;
esac
