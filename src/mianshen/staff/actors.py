"""Who acts in a command: an ``--actor`` is an active staff member (normalised as Django normalises user
names), or a machine step acts as ``cli:<OS user>``. Four eyes compare people, not spellings."""

from __future__ import annotations

import getpass
import unicodedata

from django.contrib.auth import get_user_model

from mianshen.core.command import UserError

from .roles import Perm, can


def system_actor() -> str:
    """Who a command acts as when no ``--actor`` is given: ``cli:<OS user>`` (a machine step, not a person's
    decision)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a container)
        return "cli:unknown"


def staff_actor(text: str, *, perm: str | None = None) -> str:
    """The user name an ``--actor`` names, normalised as Django normalises user names (NFKC; surrounding blanks
    removed; case kept, as Django compares names), if it is an active staff member (whose role may do ``perm``,
    a ``Perm`` value, when given); else ``UserError``. So ``' alice'`` is alice, and four eyes compare people,
    not spellings."""
    name = unicodedata.normalize("NFKC", text).strip()
    if not name:
        raise UserError("--actor: give a staff user name (see `mianshen staff list`)")
    user = get_user_model().objects.filter(username=name, is_active=True, staff__isnull=False).first()
    if user is None:
        raise UserError(f"--actor {name!r}: no active staff user of that name (see `mianshen staff list`)")
    if perm is not None and not can(user, Perm(perm)):
        raise UserError(f"--actor {name}: the role {user.staff.role} may not {perm}")
    return str(user.get_username())


def actor_option(value: str | None, *, perm: str | None = None, required: bool = False) -> str:
    """The actor of a command: an ``--actor`` given is checked (``staff_actor``); without one, a decision
    (``required``) is refused and a machine step acts as ``system_actor()``."""
    if value is not None:
        return staff_actor(value, perm=perm)
    if required:
        raise UserError("--actor is required: the staff member who decides (see `mianshen staff list`)")
    return system_actor()
