"""Read template.yaml and resolve its intrinsic functions for the local backend.

The local backend builds its resources from the same template that deploys to AWS, so the two
cannot drift: environment variables, state machine substitutions, event patterns, the Batch
job definition's retry and timeout all come from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from pathlib import Path

_TAGS = (
    "Ref",
    "GetAtt",
    "Sub",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Join",
    "Select",
    "Split",
    "Condition",
    "FindInMap",
    "Base64",
    "Contains",
    "GetAZs",
    "ImportValue",
)


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag_constructor(tag: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        key = "Ref" if tag == "Ref" else ("Condition" if tag == "Condition" else f"Fn::{tag}")
        return {key: value}

    return construct


for _tag in _TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _tag_constructor(_tag))


def load_template(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return document


_NO_VALUE = object()  # AWS::NoValue: the property (or list item) is left out


@dataclass
class Resolver:
    """Evaluates intrinsics against parameter values and the local names of resources."""

    template: dict[str, Any]
    parameters: dict[str, str]
    names: dict[str, str] = field(default_factory=dict)  # logical id -> !Ref value
    arns: dict[str, str] = field(default_factory=dict)  # logical id -> !GetAtt X.Arn
    pseudo: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        defaults = {k: str(v.get("Default", "")) for k, v in self.template.get("Parameters", {}).items()}
        self.parameters = {**defaults, **self.parameters}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:
        resolved = self._resolve(value)
        return None if resolved is _NO_VALUE else resolved

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self._resolve(v) for v in value) if r is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = getattr(self, "_" + key.replace("Fn::", "fn_").replace("::", "_"), None)
            if handler is not None:
                return handler(arg)
        return {k: r for k, r in ((k, self._resolve(v)) for k, v in value.items()) if r is not _NO_VALUE}

    def _Ref(self, name: str) -> Any:  # noqa: N802 - named after the intrinsic
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.names.get(name, name)

    def _Condition(self, name: str) -> bool:  # noqa: N802
        return self.condition(name)

    def _fn_GetAtt(self, arg: list[str]) -> str:  # noqa: N802
        logical, attribute = arg
        if attribute == "Arn":
            return self.arns.get(logical, f"arn:aws:local:::{logical}")
        return self.names.get(f"{logical}.{attribute}", f"{logical}.{attribute}")

    def _fn_Sub(self, arg: str | list[Any]) -> str:  # noqa: N802
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def substitute(match: re.Match[str]) -> str:
            name = match[1]
            if name in extra:
                return str(extra[name])
            if "." in name:
                return str(self._fn_GetAtt(name.split(".", 1)))
            return str(self._Ref(name))

        # ${!Literal} is CloudFormation's escape for a literal ${Literal} (IAM policy variables).
        return re.sub(r"\$\{([^}!]+)\}", substitute, text).replace("${!", "${")

    def _fn_If(self, arg: list[Any]) -> Any:  # noqa: N802
        name, when_true, when_false = arg
        return self._resolve(when_true if self.condition(name) else when_false)

    def _fn_Equals(self, arg: list[Any]) -> bool:  # noqa: N802
        left, right = self.resolve(arg)
        return bool(str(left) == str(right))

    def _fn_Not(self, arg: list[Any]) -> bool:  # noqa: N802
        return not self.resolve(arg[0])

    def _fn_And(self, arg: list[Any]) -> bool:  # noqa: N802
        return all(self.resolve(arg))

    def _fn_Or(self, arg: list[Any]) -> bool:  # noqa: N802
        return any(self.resolve(arg))

    def _fn_Join(self, arg: list[Any]) -> str:  # noqa: N802
        separator, items = arg
        return str(separator).join(str(i) for i in self.resolve(items))

    def _fn_Select(self, arg: list[Any]) -> Any:  # noqa: N802
        index, items = self.resolve(arg)
        return items[int(index)]

    def _fn_FindInMap(self, arg: list[Any]) -> Any:  # noqa: N802
        mapping, first, second = (str(part) for part in self.resolve(arg))
        return self.template["Mappings"][mapping][first][second]

    def _fn_Split(self, arg: list[Any]) -> list[str]:  # noqa: N802
        separator, text = self.resolve(arg)
        return str(text).split(separator)


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == kind}
