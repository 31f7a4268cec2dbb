"""Data in and out: the invoice and activity tables, importers, exports and atomic run directories."""
