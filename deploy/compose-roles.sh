#!/bin/sh
# PostgreSQL image init script (compose only): the two Kassa roles with the compose passwords.
psql -v ON_ERROR_STOP=1 -U postgres -v owner_password="'owner'" -v app_password="'app'" -f /roles.sql
