"""The `fermion …` commands (typer)."""
