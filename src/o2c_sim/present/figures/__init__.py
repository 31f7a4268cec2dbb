"""Plotly figures: plain functions taking DataFrames and returning ``plotly.graph_objects.Figure``.

:mod:`o2c_sim.present.figures.simulation` draws simulation results (aging, KPI trends, cash, capacity,
staffing curves, strategy comparisons); shared by the notebooks and the dashboards.
"""
