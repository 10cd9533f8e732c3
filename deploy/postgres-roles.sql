-- Roles and database for Kassa on an external PostgreSQL (13 or newer), run as a superuser:
--   psql -v owner_password="'...'" -v app_password="'...'" -f deploy/postgres-roles.sql
-- The owner role runs migrations and owns every table. The application role (web, worker,
-- beat) owns nothing and cannot bypass row-level security, so PostgreSQL itself keeps each
-- chain's rows apart even if the application had a bug.
CREATE ROLE kassa_owner LOGIN PASSWORD :owner_password NOSUPERUSER NOBYPASSRLS NOCREATEROLE;
CREATE ROLE kassa_app LOGIN PASSWORD :app_password NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE DATABASE kassa OWNER kassa_owner;
-- Then point Kassa at it and migrate (grants for kassa_app are made by the first migration):
--   DATABASE_URL=postgres://kassa_app:...@db/kassa
--   DATABASE_OWNER_URL=postgres://kassa_owner:...@db/kassa
--   .venv/bin/python manage.py migrate
