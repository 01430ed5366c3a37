"""brd_train: student training (TRL), evaluation and analysis. Reads mixture folders built by brd_data."""

__version__ = "0.1.0"
