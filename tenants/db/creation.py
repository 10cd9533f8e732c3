from django.db.backends.postgresql.creation import DatabaseCreation as PostgresCreation


class DatabaseCreation(PostgresCreation):
    def _destroy_test_db(self, test_database_name, verbosity):
        # FORCE: worker and web processes started by tests may still hold connections.
        with self._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE {self.connection.ops.quote_name(test_database_name)} WITH (FORCE)")
