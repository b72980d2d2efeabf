"""The experiments shipped with gcperf: TOML files, installed as ``gcperf.experiments`` (see README.md here)."""
