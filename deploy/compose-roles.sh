#!/bin/sh
# PostgreSQL image init script (compose only): the three Kassa roles, their passwords read from
# the secret files compose mounts (deploy/compose-secrets.sh made them; none is written here).
set -eu
quoted() { printf "'%s'" "$(cat "/run/secrets/$1")"; }
psql -v ON_ERROR_STOP=1 -U postgres \
    -v owner_password="$(quoted owner_db_password)" \
    -v app_password="$(quoted app_db_password)" \
    -v maintenance_password="$(quoted maintenance_db_password)" \
    -f /roles.sql
