"""Stage 1: prompt pools (loading and validation here; generation in later modules)."""
