"""`mianshen staff add USERNAME --role ROLE [--district CODE] [--password-stdin]` and `mianshen staff list`."""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandParser

from mianshen.core.command import MianshenCommand, UserError
from mianshen.core.db import require_migrated_database

ROLES = ("city_admin", "district_officer", "reviewer", "auditor")


class Command(MianshenCommand):
    help = (
        "Back-office staff: add a user with a role (city_admin, district_officer, reviewer, auditor) and, for a "
        "district officer, a district (GB/T 2260 code such as 110105); list them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="create a staff user (refused if the user already has a role)")
        add.add_argument("username")
        add.add_argument("--role", required=True, choices=ROLES)
        add.add_argument("--district", help="district code (required for district_officer)")
        add.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of stdin (else: no usable password until changepassword)",
        )
        sub.add_parser("list", help="every staff user with role and district")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated_database()
        getattr(self, f"_{options['action']}")(options)

    def _add(self, options: dict[str, Any]) -> None:
        from mianshen.backoffice.services import StaffError, staff_add

        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise UserError("--password-stdin: the first line of stdin is empty")
        try:
            staff = staff_add(
                username=options["username"],
                role=options["role"],
                district=options["district"],
                password=password,
            )
        except StaffError as exc:
            raise UserError(str(exc)) from exc
        except ValidationError as exc:
            raise UserError("password refused: " + " ".join(exc.messages)) from exc
        where = f" in {staff.district}" if staff.district else " (city-wide)"
        self.stdout.write(f"staff {staff.user.get_username()}: {staff.role}{where}")

    def _list(self, options: dict[str, Any]) -> None:
        from mianshen.backoffice.roles import Staff

        for staff in Staff.objects.select_related("user").order_by("user__username"):
            active = "" if staff.user.is_active else " (inactive)"
            self.stdout.write(f"{staff.user.get_username()}\t{staff.role}\t{staff.district or '-'}{active}")
