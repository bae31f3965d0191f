"""`mianshen staff add USERNAME --role ROLE [--district CODE] [--password-stdin] [--totp]`, `staff list`,
`staff enrol-totp USERNAME` and `staff unlock USERNAME`.

A city administrator or a reviewer (and any role in MIANSHEN_SECOND_FACTOR_ROLES) is enrolled for the second
factor when added; the TOTP secret and the recovery codes are printed once (`enrol-totp` replaces them).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandParser
from django.utils import translation

from mianshen.core.command import MianshenCommand, UserError
from mianshen.core.db import require_migrated_database
from mianshen.staff.actors import system_actor

ROLES = ("city_admin", "district_officer", "reviewer", "auditor")


class Command(MianshenCommand):
    help = (
        "Back-office staff: add a user with a role (city_admin, district_officer, reviewer, auditor) and, for a "
        "district officer, a district (GB/T 2260 code such as 110105); list them; enrol a second factor; lift a "
        "sign-in lockout."
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
        add.add_argument(
            "--totp",
            action="store_true",
            help="enrol a second factor even where the role does not require one (it is printed once)",
        )
        sub.add_parser("list", help="every staff user with role, district, second factor and lock")
        enrol = sub.add_parser(
            "enrol-totp", help="give a staff user a new TOTP secret and recovery codes (printed once)"
        )
        enrol.add_argument("username")
        unlock = sub.add_parser("unlock", help="lift the lock an account got after repeated failed sign-ins")
        unlock.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated_database()
        getattr(self, "_" + options["action"].replace("-", "_"))(options)

    def _add(self, options: dict[str, Any]) -> None:
        from mianshen.staff.second_factor import second_factor_required
        from mianshen.staff.services import StaffError, staff_add

        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise UserError("--password-stdin: the first line of stdin is empty")
        try:
            with translation.override("en"):  # the validators' messages in English, as the command's others
                staff = staff_add(
                    username=options["username"],
                    role=options["role"],
                    district=options["district"],
                    password=password,
                    granted_by=system_actor(),
                )
        except StaffError as exc:
            raise UserError(str(exc)) from exc
        except ValidationError as exc:
            raise UserError("password refused: " + " ".join(exc.messages)) from exc
        where = f" in {staff.district}" if staff.district else " (city-wide)"
        self.stdout.write(f"staff {staff.user.get_username()}: {staff.role}{where}")
        if options["totp"] or second_factor_required(staff.user):
            self._enrol(staff.user)

    def _enrol_totp(self, options: dict[str, Any]) -> None:
        from mianshen.staff.roles import Staff

        staff = (
            Staff.objects.select_related("user").filter(user__username=options["username"].strip()).first()
        )
        if staff is None:
            raise UserError(f"no staff user {options['username']!r} (see `mianshen staff list`)")
        self._enrol(staff.user)

    def _enrol(self, user: Any) -> None:
        from mianshen.staff.second_factor import second_factor_enrol

        e = second_factor_enrol(user=user, actor=system_actor())
        self.stdout.write(
            f"second factor of {user.get_username()} (shown once: give it to them, keep no copy)"
        )
        self.stdout.write(f"  TOTP secret: {e.secret}")
        self.stdout.write(f"  {e.uri}")
        self.stdout.write("  recovery codes (each works once): " + " ".join(e.recovery_codes))

    def _unlock(self, options: dict[str, Any]) -> None:
        from mianshen.staff.signin import sign_in_name, sign_in_unlock

        name = sign_in_name(options["username"])
        if not sign_in_unlock(name=name, actor=system_actor()):
            raise UserError(f"{name!r} is not locked")
        self.stdout.write(f"{name}: lock lifted; failed sign-ins forgotten")

    def _list(self, options: dict[str, Any]) -> None:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from mianshen.staff.roles import Staff
        from mianshen.staff.signin import locked_accounts

        enrolled = set(TOTPDevice.objects.filter(confirmed=True).values_list("user_id", flat=True))
        locked = set(locked_accounts().values_list("key", flat=True))
        for staff in Staff.objects.select_related("user").order_by("user__username"):
            name = staff.user.get_username()
            notes = "".join(
                note
                for note, on in (
                    (" (inactive)", not staff.user.is_active),
                    (" (second factor)", staff.user_id in enrolled),
                    (" (LOCKED: mianshen staff unlock)", name in locked),
                )
                if on
            )
            self.stdout.write(f"{name}\t{staff.role}\t{staff.district or '-'}{notes}")
