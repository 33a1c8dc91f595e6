"""The job model and its allowed transitions (pure), the table store, and the lease."""
