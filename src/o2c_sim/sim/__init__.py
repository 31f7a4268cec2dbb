"""The simulation: the SimPy model of the book, payers, dunning, collectors, disputes and settlement."""
