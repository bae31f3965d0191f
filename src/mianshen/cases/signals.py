"""What the cases app tells the apps above it (notify queues messages). Cases imports none of them: an app that
reacts connects a receiver in its ``AppConfig.ready()``. Both are sent INSIDE the transaction that made the
change, so what a receiver writes (an outbox row) commits or rolls back with it; a receiver that raises
refuses the change."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by ``transitions.case_transition_many`` after it wrote its moves, in its transaction:
# ``cases_moved.send(sender=Case, moved=[(case, from_state), …], actor=actor)`` — the moved ``Case`` instances
# (their new state, amount and version) with the state each came from; amendments (a move to the same state)
# are included, with ``from_state == case.state``. Also sent by ``services.case_apply_round`` for the cases a round
# opens straight into a state where someone else must act (``ANNOUNCED_ON_OPENING``: awaiting confirmation by the
# host employers), with ``from_state == ""``.
cases_moved = Signal()

# Sent by ``services.notice_open`` in its transaction after the notice's cases were publicised:
# ``notice_opened.send(sender=Notice, notice=notice, case_ids=[…], actor=actor)``.
notice_opened = Signal()

# Sent by ``services.application_submit`` in its transaction once the application is stored:
# ``application_submitted.send(sender=Application, application=app, actor=actor)`` (notify: ``application_received``).
application_submitted = Signal()

# Sent when an application is granted or refused (its four-eyes review decided, or — wrong bank details — the
# payment re-issued to the account on file), in that transaction:
# ``application_decided.send(sender=Application, application=app, actor=actor)`` (notify: ``application_decided``).
application_decided = Signal()
