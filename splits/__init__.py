"""The committed split lists, installed as ``asgbench.committed_splits`` (see asgbench.data.splits)."""
