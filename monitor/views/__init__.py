"""The web UI's pages: thin views over selectors (reads) and services (writes)."""
