from django.core.cache import cache
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

_migrations_applied = False


def _database_ready() -> str | None:
    global _migrations_applied
    try:
        connection = connections["default"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if not _migrations_applied:
            executor = MigrationExecutor(connection)
            if executor.migration_plan(executor.loader.graph.leaf_nodes()):
                return "migrations not applied"
            _migrations_applied = True
    except DatabaseError:
        return "database unreachable"
    return None


def _redis_ready() -> str | None:
    try:
        cache.set("kassa:readyz", "1", 10)
    except Exception:  # any client error means "not ready"; the probe must answer
        return "redis unreachable"
    return None


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    problems = [p for p in (_database_ready(), _redis_ready()) if p]
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ok"})
