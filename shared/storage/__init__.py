"""Blob Storage: SDK clients, streaming reads, atomic writes, and every blob and work-file name."""
