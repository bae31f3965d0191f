"""Payment services (writes). Each module is one step of the flow; see docs/payments.md."""
