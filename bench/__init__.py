"""The latency and scale benchmark (scripts/bench): see run.py."""
