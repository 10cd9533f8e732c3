class MigrationsAsOwnerRouter:
    """Run migrations only through the owner alias: the application role owns no table."""

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "owner"
