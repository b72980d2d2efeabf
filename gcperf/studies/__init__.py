"""Questions asked of many runs: sweeps and experiments, recommendations, comparisons between
versions and between results, charts and the HTML report."""
