"""The command-line tools, run as scripts from a checkout (``python
tools/inference.py ...``) or through ``mim run promptpose_mm``. Not
installed with the package; the scripts put the repository root on
``sys.path`` to share :mod:`tools.cli`. Nothing in the package imports
them."""
