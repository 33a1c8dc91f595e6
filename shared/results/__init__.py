"""After the batches end: collect the service's files, merge, retry, write the outputs."""
