"""`python -m bench`: twinserve against the tutorials' app (baseline) and an empty app on the same stack (ceiling).

See bench/__main__.py for the figures and how one run is laid out.
"""
