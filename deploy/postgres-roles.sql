-- Roles and database for Kassa on an external PostgreSQL (13 or newer), run as a superuser:
--   psql -v owner_password="'...'" -v app_password="'...'" -v maintenance_password="'...'" \
--        -f deploy/postgres-roles.sql
-- Three roles, none a superuser or able to bypass row-level security (docs/architecture.md,
-- "Three database roles"):
--   kassa_owner        owns the database and every table; runs migrations only (manage.py migrate)
--                      and the weekly drill's scratch databases (CREATEDB: manage.py drill_from_storage
--                      creates, migrates and drops kassa_drill_* beside the live database)
--   kassa_app          web, worker, beat: owns nothing, reads the platform tables, works under
--                      row-level security everywhere else
--   kassa_maintenance  the privileged worker and manage.py: erasure, restore, purge, retention,
--                      backups, drills; owns nothing, still under row-level security; deletes
--                      audit entries only through kassa_audit_delete()
-- Grants are made by the migrations, to these names. In production a Kassa process refuses to
-- start when its role is a superuser, has BYPASSRLS, owns a table or is (or may become) the owner.
CREATE ROLE kassa_owner LOGIN PASSWORD :owner_password CREATEDB NOSUPERUSER NOBYPASSRLS NOCREATEROLE;
CREATE ROLE kassa_app LOGIN PASSWORD :app_password NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE kassa_maintenance LOGIN PASSWORD :maintenance_password NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
-- The maintenance role may act as the application role (SET ROLE; NOINHERIT, so it gains none of
-- its privileges): the test suite's connections do, so the suite can run against this server.
GRANT kassa_app TO kassa_maintenance;
-- The owner may end other roles' sessions: the drill drops its scratch database WITH (FORCE).
GRANT pg_signal_backend TO kassa_owner;
CREATE DATABASE kassa OWNER kassa_owner;
-- No role creates objects in schema public but the owner (PostgreSQL 15 and later do this already).
\connect kassa
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CREATE, USAGE ON SCHEMA public TO kassa_owner;
-- Then point Kassa at it and migrate (each process gets only its own connection, README "Processes"):
--   web, worker, beat:   DATABASE_URL=postgres://kassa_app:...@db/kassa?sslmode=verify-full
--   privileged worker:   DATABASE_MAINTENANCE_URL=postgres://kassa_maintenance:...@db/kassa?sslmode=verify-full
--   manage.py:           DATABASE_MAINTENANCE_URL=... and DATABASE_OWNER_URL=postgres://kassa_owner:...@db/kassa?sslmode=verify-full
--   .venv/bin/python manage.py migrate
