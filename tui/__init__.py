"""copytrader's terminal UI (Textual), run on the server over SSH: `copytrader tui`.

A client of the control actor ONLY: it imports nothing of ours but `protocol`, holds no secret
and never talks to Binance. It speaks to control's ROUTER (ipc://<runtime_dir>/control.ctl) with
its own DEALER client (client.py), subscribes to control's live pushes, and probes control every
two seconds; while control cannot be reached the top bar says so, and the link reconnects and
reloads by itself when control is back (also after a restart between two probes).

Layout:
    app.py        the App: link worker, Store, signals `store_changed` / `live_event`, `send`
    app.tcss      styles
    client.py     ControlLink: id correlation, timeouts, probe, reconnection
    model.py      pure: Store, cells, sparkline, percentiles, drift heuristic, filters, sorting
    forms.py      pure: form fields -> validated SlaveConfig
    keys.py       the add-slave key handoff (below)
    settings.py   the config file: runtime dir (+ exchange for the key handoff), with tomllib
    screens/      dashboard, detail, edit, wizard, journal, confirm
    widgets/      top bar, master panel, slave table, slave form

Screens and keys (also in the footer):
    dashboard  enter detail · e edit · p pause/resume · r restart · f flatten · n add · D remove
               P pause-all/resume-all · x ack all errors · j journal · / filter · s sort · q quit
    detail     esc back · e edit · p pause/resume · r restart · f flatten · a ack errors · l reload
    journal    esc back · / filter · a ack selected · A ack all · l reload
Every action that changes something asks for confirmation first; the edit form validates locally.

Live and light: rows change from pushes (a slave reports every second), folded into one update
every 250 ms that touches only the table cells whose text changed. The master panel and the top
bar come from the liveness probe's `GetStatus`.

Add-slave key handoff (secrets never travel on our sockets, the TUI never imports keystore):
the wizard runs `copytrader keys add <id> --type ... --api-key ... --markets ... --config <toml>
--exchange <...> --secret-stdin` as a child process on this machine, writes the secret typed in a
masked field to its stdin (the field is cleared as soon as it is read), and only when the keys
command has validated and stored the key does it send `AddSlave`. Ed25519/RSA keys can instead be
given as a PEM file path on the server (`--secret-file`). See keys.py.
"""
