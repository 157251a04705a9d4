import pytest

from asgbench.errors import AsgbenchError, UnknownNameError
from asgbench.registry import Registry


def test_lazy_entry_is_imported_on_first_get():
    registry = Registry("thing")
    registry.register("path", "pathlib:PurePosixPath")
    assert registry.names() == ["path"]
    from pathlib import PurePosixPath

    assert registry.get("path") is PurePosixPath


def test_typo_gets_did_you_mean_and_is_an_asgbench_error():
    registry = Registry("dataset")
    for name in ("mimic", "chexpert", "rsna"):
        registry.register(name, object())
    with pytest.raises(UnknownNameError) as info:
        registry.get("chexprt")
    assert "did you mean 'chexpert'" in str(info.value)
    assert isinstance(info.value, AsgbenchError)


def test_aliases_wildcards_and_duplicates():
    registry = Registry("model")
    registry.register("asg-vit", 1, aliases=("asg",))
    registry.register("asg-r50", 2)
    registry.register("mgca-vit", 3)
    assert registry.get("asg") == 1
    assert registry.names("asg-*") == ["asg-vit", "asg-r50"]
    assert registry.aliases_of("asg-vit") == ["asg"]
    with pytest.raises(ValueError):
        registry.register("asg", 4)
    with pytest.raises(ValueError):
        registry.register("bad", "no_colon_here")
