"""Experiments on the simulation: replications, sweeps, comparisons, staffing, sensitivity."""
