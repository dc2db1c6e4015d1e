"""The Qt user interface: one module per pane or dialog; the main window only composes them."""
