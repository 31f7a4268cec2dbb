"""Calibration: scenarios fitted from invoice histories and activity logs, and the recovery check."""
