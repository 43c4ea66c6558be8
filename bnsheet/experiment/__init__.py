"""The textbook experiment: a small network trained with and without Batch Normalization."""
