"""Back-office views, by area: dashboard, rounds, queues, cases, notices (and objections)."""
