"""Programs as gcperf sees them: statistical workloads, exact traces, small real programs, and
the streams that realise them as chunks of allocation slots."""
