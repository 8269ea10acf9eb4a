"""A drawing, an upload or a photo -> a 28 x 28 digit made the way MNIST's were.

decoding.py reads what arrives (bounded, hostile-proof), photo.py finds the ink, mnist_format.py
applies MNIST's recipe, upload.py puts an uploaded file through all three.
"""
