"""Series colours shared by the training plot and the class chart.

A colour-blind-safe pair (Okabe-Ito blue and orange), readable on light and dark backgrounds.
Its own module so the class chart does not import pyqtgraph (it costs ~0.2 s at start-up).
"""

TRAIN_COLOUR = "#0072B2"
VALIDATION_COLOUR = "#E69F00"
