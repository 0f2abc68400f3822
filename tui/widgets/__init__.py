"""Widgets of the TUI: top bar, master panel, slave table."""
