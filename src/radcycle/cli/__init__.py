"""Thin typer commands over pipeline, service and tools. Nothing imports this package."""
