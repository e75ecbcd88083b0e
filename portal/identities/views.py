from flask import Blueprint

bp = Blueprint("identities", __name__, url_prefix="/identities")
