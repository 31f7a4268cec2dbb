"""Presentation: figures, notebook parameters, reports and dashboards."""
