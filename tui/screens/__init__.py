"""The TUI's screens: dashboard, slave detail, edit form, add-slave wizard, journal, confirmation."""
