"""One module per emulated provider; see ``portal.sandbox``."""
