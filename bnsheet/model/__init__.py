"""The model: the graph template, the layer's inputs, the NumPy reference and the plots' maths."""
