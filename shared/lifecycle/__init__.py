"""Drives each job through its states: which step runs in which state, under the lease."""
