"""The API's routes, one module per resource; ``app.py`` adds each to the app."""
