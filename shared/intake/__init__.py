"""Reading an input file: find it, check every line, repair what is safe, write the work files."""
