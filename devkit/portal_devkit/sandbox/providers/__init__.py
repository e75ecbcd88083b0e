"""One module per emulated provider; see ``portal_devkit.sandbox``."""
