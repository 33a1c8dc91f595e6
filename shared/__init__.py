"""batchdrop: drop a prompt file into Blob Storage, get merged Azure OpenAI batch results."""
