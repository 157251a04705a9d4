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


def test_decorator_registers_and_returns_object():
    registry = Registry("task")

    @registry.decorator("t1")
    def task():
        return 7

    assert registry.get("t1")() == 7
    assert "t1" in registry and len(registry) == 1


def test_a_family_prefix_gives_own_names_to_one_entry():
    registry = Registry("model")
    registry.register("asg-vit", "baselines.asg:ASG_VIT", aliases=("asg",))
    registry.register_family("asg-", "asg-vit")
    assert registry.canonical("asg-ira-irl") == "asg-ira-irl"       # its own name: runs and table rows stay apart
    assert registry.get("asg-ira-irl") is registry.get("asg-vit")
    assert "asg-full" in registry and "asg-" not in registry
    assert registry.names() == ["asg-vit"]                          # listing shows registered entries only
    with pytest.raises(UnknownNameError):
        registry.get("asgx")
    with pytest.raises(ValueError):
        registry.register_family("x-", "missing")
