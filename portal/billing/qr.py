"""QR codes as inline SVG markup (no image files, no inline style: the CSP forbids it)."""
from __future__ import annotations

import qrcode
import qrcode.constants
from markupsafe import Markup, escape


def qr_svg(payload: str, label: str) -> Markup:
    """An SVG drawing of ``payload``'s QR code, sized by CSS (``.portal-qr svg``)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    path = "".join(
        f"M{x},{y}h1v1h-1z" for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark
    )
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" role="img" aria-label="{label}" '
        'shape-rendering="crispEdges"><rect width="{n}" height="{n}" fill="#fff"/>'
        '<path d="{path}" fill="#000"/></svg>'
    ).format(n=size, label=escape(label), path=path)
