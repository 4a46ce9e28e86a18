"""The ``okr-sync`` command line: the one place that prints and picks exit codes.

``main`` holds the click group; each other module is one command or a helper of the
commands (``render`` draws plans, trees and summaries). The demo and the sandbox
commands import the sandboxes only when they run.
"""
