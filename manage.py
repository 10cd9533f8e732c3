#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
    # Operators' commands: the maintenance role and the owner (README "Processes").
    os.environ.setdefault("KASSA_PROCESS", "manage")
    from django.core.management import execute_from_command_line

    from core.env import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as error:
        sys.stderr.write(f"kassa: configuration error: {error}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
