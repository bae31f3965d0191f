"""What screening tells the apps above it. Screening imports none of them: an app that reacts connects a
receiver in its ``AppConfig.ready()`` (cases applies a completed round to its cases)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by the round job when a round completed, in the worker, after the round's results committed:
# ``round_completed.send(sender=ScreeningRound, round=rnd)``. A receiver returns a dict of counts for the
# job's result (or None); an exception in a receiver fails the job, which the worker retries.
round_completed = Signal()

# Sent by the round job before it evaluates: ``round_inputs.send(sender=ScreeningRound, round=rnd, family=kind)``.
# A receiver returns a dict of extra engine inputs ({name: polars frame}) or None: the cases app answers the
# job-expansion family's ``paid_persons`` from its person ledger (a table screening cannot read itself).
round_inputs = Signal()
