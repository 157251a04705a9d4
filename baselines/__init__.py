"""One module per published model: where its released weights live and how their keys map onto asgbench.

Each module defines frozen :class:`asgbench.encoders.config.EncoderConfig` entries that
``asgbench.encoders.MODELS`` registers lazily by name.
"""
