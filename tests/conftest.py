"""Project-wide test configuration.

The audit trail's append-only triggers refuse the DELETE/TRUNCATE with which Django flushes tables between
transactional tests; the plugin below lifts them around the flush only (see ``mianshen.audit.testing``).
"""

pytest_plugins = ["mianshen.audit.testing"]
