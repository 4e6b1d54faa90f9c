"""Copy a Lyo SQLite database (e.g. from `make run`) into an empty, migrated PostgreSQL one."""

from django.core.management.base import BaseCommand, CommandError

from apps.core.sqlite_to_postgres import (
    MigrationError,
    Progress,
    format_report,
    migrate_sqlite_to_postgres,
)


class Command(BaseCommand):
    help = (
        "Copy every table of a Lyo SQLite database into an empty, migrated PostgreSQL database "
        "in one transaction, keeping primary keys, then verify row counts and checksums. "
        "See docs/operations.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, help="path to the SQLite file")
        parser.add_argument(
            "--target-url",
            help="postgres://user:pass@host:5432/db (default: this project's DATABASE_URL)",
        )
        parser.add_argument("--batch-size", type=int, default=2000, help="rows per INSERT batch")
        parser.add_argument(
            "--force",
            action="store_true",
            help="DELETE all existing rows in the target's Lyo tables before copying",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="copy and verify, then roll back: the target is left unchanged",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")

    def handle(self, *args, **options):
        try:
            result = migrate_sqlite_to_postgres(
                source_path=options["source"],
                target_url=options["target_url"],
                batch_size=options["batch_size"],
                force=options["force"],
                dry_run=options["dry_run"],
                progress=Progress(self.stderr._out, enabled=not options["no_progress"]),
            )
        except MigrationError as exc:
            raise CommandError(f"{exc}\nNothing was written to the target.") from exc
        self.stdout.write(format_report(result))
        if result.committed:
            self.stdout.write(
                self.style.SUCCESS(
                    "Committed. Next: point DATABASE_URL at this database and run "
                    "`manage.py rebuild_leaderboards` (leaderboards live in Redis)."
                )
            )
        else:
            self.stdout.write(self.style.WARNING("Dry run: verified, then rolled back."))
