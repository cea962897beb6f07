"""Reads and writes, one module per table family; decisions live outside it."""
