"""The purge certificate's claim: a token an owner gets when confirming the termination.

After the purge the tenant's users are gone, so the certificate is fetched with a claim token on
the platform host (`GET /api/v1/purge-certificate/`). `lifecycle_certificateclaim` holds one
row per tenant: its id and the token's SHA-256, never the token. The application role has no
grant on it, nor on the certificates; two narrow functions (SECURITY DEFINER, owned by the
owner) are all it may do:

- `kassa_certificate_claim_issue(digest, issued_at)`: store the digest for the *current* tenant
  (`kassa_current_tenant()`), only while it is active or terminated, only once (true when this
  call stored it, false when the tenant had one already).
- `kassa_certificate_claim_issued_at()`: when the current tenant's claim was issued (NULL: none),
  so its owners see that a token exists without seeing anything of it.
- `kassa_purge_certificate_claim(digest)`: for a known digest, the tenant's status and end of
  subscription and, once the purge is complete, its certificate row; NULL for an unknown one.
"""

from django.db import migrations, models

from tenants.roles import migration_role

ISSUE = """
CREATE OR REPLACE FUNCTION kassa_certificate_claim_issue(digest text, issued_at timestamptz) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  subject uuid := kassa_current_tenant();
BEGIN
  IF subject IS NULL OR digest IS NULL OR digest !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'kassa_certificate_claim_issue: needs a current tenant and a SHA-256 hex digest'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM tenants_tenant t WHERE t.id = subject AND t.status IN ('active', 'terminated')) THEN
    RAISE EXCEPTION 'kassa_certificate_claim_issue: the tenant is not active or terminated'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO lifecycle_certificateclaim (subject_tenant, token_hash, created_at)
  VALUES (subject, digest, issued_at)
  ON CONFLICT (subject_tenant) DO NOTHING;
  RETURN FOUND;
END
$$
"""

ISSUED_AT = """
CREATE OR REPLACE FUNCTION kassa_certificate_claim_issued_at() RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT c.created_at FROM lifecycle_certificateclaim c WHERE c.subject_tenant = kassa_current_tenant()
$$
"""

CLAIM = """
CREATE OR REPLACE FUNCTION kassa_purge_certificate_claim(digest text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  subject uuid;
  answer jsonb;
BEGIN
  SELECT c.subject_tenant INTO subject FROM lifecycle_certificateclaim c WHERE c.token_hash = digest;
  IF subject IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT jsonb_build_object(
           'tenant_status', t.status,
           'subscription_ends_at', t.subscription_ends_at,
           'certificate', (SELECT to_jsonb(p) FROM lifecycle_purgecertificate p
                           WHERE p.subject_tenant = subject AND p.status = 'complete'))
    INTO answer
    FROM tenants_tenant t WHERE t.id = subject;
  RETURN answer;
END
$$
"""


def forwards(apps, schema_editor):
    app = migration_role(schema_editor, "app")
    for statement in (
        f"REVOKE ALL ON lifecycle_certificateclaim FROM {app}",
        ISSUE,
        ISSUED_AT,
        CLAIM,
        "REVOKE ALL ON FUNCTION kassa_certificate_claim_issue(text, timestamptz) FROM PUBLIC",
        "REVOKE ALL ON FUNCTION kassa_certificate_claim_issued_at() FROM PUBLIC",
        "REVOKE ALL ON FUNCTION kassa_purge_certificate_claim(text) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION kassa_certificate_claim_issue(text, timestamptz) TO {app}",
        f"GRANT EXECUTE ON FUNCTION kassa_certificate_claim_issued_at() TO {app}",
        f"GRANT EXECUTE ON FUNCTION kassa_purge_certificate_claim(text) TO {app}",
    ):
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    schema_editor.execute("DROP FUNCTION IF EXISTS kassa_certificate_claim_issue(text, timestamptz)")
    schema_editor.execute("DROP FUNCTION IF EXISTS kassa_certificate_claim_issued_at()")
    schema_editor.execute("DROP FUNCTION IF EXISTS kassa_purge_certificate_claim(text)")


class Migration(migrations.Migration):
    dependencies = [("lifecycle", "0004_drill_kind"), ("tenants", "0005_database_roles")]

    operations = [
        migrations.CreateModel(
            name="CertificateClaim",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("subject_tenant", models.UUIDField(unique=True)),
                (
                    "token_hash",
                    models.CharField(help_text="SHA-256 of the token, hex", max_length=64, unique=True),
                ),
                ("created_at", models.DateTimeField()),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
