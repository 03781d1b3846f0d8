"""``manage.py seed_demo``: the 《山居秋暝》 demo project, seeded once (see projects/demo.py)."""
from django.core.management.base import BaseCommand, CommandError

from projects import demo


class Command(BaseCommand):
    help = "Seed the demo project once (a second run changes nothing) and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--render-keyframes", action="store_true",
                            help="On first seed, queue a key-frame render of every shot (needs a worker).")
        output = parser.add_mutually_exclusive_group()
        output.add_argument("--quiet", action="store_true", help="Print nothing.")
        output.add_argument(
            "--print-logins", action="store_true", help="Only print the saved demo logins; seed nothing."
        )

    def handle(self, *args, quiet=False, print_logins=False, render_keyframes=False, **options):
        try:
            if print_logins:
                logins = demo.read_logins()
            else:
                _, logins = demo.seed(stdout=None if quiet else self.stdout, render_keyframes=render_keyframes)
        except demo.DemoLoginsError as exc:
            raise CommandError(str(exc)) from exc
        if not quiet:
            self.stdout.write(demo.format_logins(logins), ending="")
