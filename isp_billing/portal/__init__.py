"""Customer portal: trytond routes (routes.py) and Genshi pages
(templates/); importing the package registers the routes."""
from . import routes

__all__ = ['routes']
