#!/bin/sh
# Make the secrets of deploy/compose.yaml once: random passwords and keys in deploy/secrets/
# (the directory mode 0700; git and the image build ignore it). Run again: existing files stay.
set -eu
dir="$(dirname "$0")/secrets"
umask 077
mkdir -p "$dir"
chmod 0700 "$dir"
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
put() {  # name value: written once; readable inside the containers that mount it
    [ -e "$dir/$1" ] && return 0
    printf '%s' "$2" > "$dir/$1"
    chmod 0444 "$dir/$1"
}
for name in postgres_password owner_db_password app_db_password maintenance_db_password redis_password; do
    put "$name" "$(random_hex 24)"
done
read_secret() { cat "$dir/$1"; }
put owner_database_url "postgres://kassa_owner:$(read_secret owner_db_password)@db:5432/kassa"
put app_database_url "postgres://kassa_app:$(read_secret app_db_password)@db:5432/kassa"
put maintenance_database_url "postgres://kassa_maintenance:$(read_secret maintenance_db_password)@db:5432/kassa"
put redis_acl "user default off
user kassa on >$(read_secret redis_password) ~* &* +@all
"
put redis_url "redis://kassa:$(read_secret redis_password)@redis:6379"
put secret_key "$(random_hex 40)"
put master_key "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_')"
echo "secrets in $dir"
