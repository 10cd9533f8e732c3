from django.core.management.commands import migrate


class Command(migrate.Command):
    """Django's migrate, run as the owner role unless another database is named."""

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(database="owner")
