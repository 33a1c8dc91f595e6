"""The Azure OpenAI batch service behind its Protocol: upload, create, track, cancel, quota."""
