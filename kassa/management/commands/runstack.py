import os
import shutil
import signal
import subprocess  # nosec B404 - we start our own processes
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from core import embedded
from kassa.tls import ensure_certificate

# What each process may hold (README "Processes"): only the privileged worker gets the
# maintenance role's connection, and no child gets the owner's.
PRIVILEGED_ONLY = ("DATABASE_MAINTENANCE_URL", "DATABASE_MAINTENANCE_URL_FILE")
MANAGE_ONLY = ("DATABASE_OWNER_URL", "DATABASE_OWNER_URL_FILE", "KASSA_DB_ACT_AS_APP")


class Command(BaseCommand):
    help = (
        "Run Kassa on this machine: migrate, seed the demo tenant, then HTTPS web, a worker, the "
        "privileged worker and beat."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8443")
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args, bind, web_workers, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("check", databases=["default"], fail_level="ERROR")
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("seed_demo")
        cert, key = ensure_certificate(settings.VAR_DIR / "tls", settings.KASSA_BASE_DOMAIN)
        connections.close_all()

        python = sys.executable
        commands = {
            "web": [
                python,
                "-m",
                "gunicorn",
                "kassa.wsgi",
                "-c",
                "deploy/gunicorn.conf.py",
                "--bind",
                bind,
                "--workers",
                str(web_workers),
                "--certfile",
                str(cert),
                "--keyfile",
                str(key),
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "kassa",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "--hostname",
                "worker@%h",
            ],
            # Its own process, not the worker with a second queue: only this one holds the
            # maintenance role, as in production (erasure, backups, restores, purges).
            "privileged-worker": [
                python,
                "-m",
                "celery",
                "-A",
                "kassa",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "--hostname",
                "privileged@%h",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "kassa",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }
        metrics_dir = settings.VAR_DIR / "metrics"  # shared by the processes' Prometheus metrics
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        base = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        processes = {
            name: subprocess.Popen(command, env=self._environment(base, name))  # nosec B603
            for name, command in commands.items()
        }

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        port = bind.rsplit(":", 1)[1]
        credentials = settings.VAR_DIR / "demo-credentials.json"
        self.stdout.write(
            f"\nKassa is running: https://{bind}/ (platform) and https://demo.{settings.KASSA_BASE_DOMAIN}:{port}/\n"
            f"Demo owner credentials: {credentials.read_text().strip()}\n"
            "Press Ctrl-C to stop.\n"
        )
        try:
            while not stopping:
                exited = [name for name, process in processes.items() if process.poll() is not None]
                if exited:
                    self.stderr.write(f"{', '.join(exited)} stopped; stopping the rest")
                    break
                time.sleep(0.5)
        finally:
            self._stop(processes)

    @staticmethod
    def _environment(base: dict, process: str) -> dict:
        """The child's environment: its KASSA_PROCESS, and no credentials it must not hold."""
        dropped = MANAGE_ONLY + (() if process == "privileged-worker" else PRIVILEGED_ONLY)
        return {**{k: v for k, v in base.items() if k not in dropped}, "KASSA_PROCESS": process}

    def _stop(self, processes):
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 30
        for process in processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        connections.close_all()
        if "redis" in embedded.STARTED_HERE:
            embedded.stop_redis()
        if "postgres" in embedded.STARTED_HERE:
            embedded.stop_postgres()
        self.stdout.write("Kassa stopped.")
