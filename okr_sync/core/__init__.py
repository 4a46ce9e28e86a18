"""The pure core: progress maths, roll-up, evaluation, planning and provenance.

No I/O and no knowledge of the config file, the state store, the engine, the CLI or
any connector: every function here takes values and returns values, so each can be
tested and reasoned about on its own.
"""
