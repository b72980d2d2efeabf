"""Results on disk: a run's tables with provenance, a sweep's resume log and lock, exports."""
