"""Resolve the CloudFormation intrinsics a synthesised template uses, against emulated resources."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class UnresolvedReference(KeyError):
    """A template refers to something the emulator did not create."""


@dataclass
class Templates:
    """The synthesised templates of one app, by stack name, and what their references stand for."""

    stacks: dict[str, dict[str, Any]]
    account: str
    region: str
    refs: dict[tuple[str, str], str] = field(default_factory=dict)  # (stack, logical id) -> Ref value
    arns: dict[tuple[str, str], str] = field(default_factory=dict)  # (stack, logical id) -> Fn::GetAtt Arn
    attributes: dict[tuple[str, str, str], str] = field(default_factory=dict)  # other Fn::GetAtt attributes

    @classmethod
    def from_dir(cls, out_dir: Path, *, account: str, region: str) -> Templates:
        """Every `<stack>.template.json` of a cloud assembly directory."""
        stacks = {
            p.name.removesuffix(".template.json"): json.loads(p.read_text()) for p in out_dir.glob("*.template.json")
        }
        return cls(stacks, account, region)

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        """Resources of one type in a stack, by logical id."""
        return {k: v for k, v in self.stacks[stack]["Resources"].items() if v["Type"] == type_}

    def resolve(self, stack: str, value: Any) -> Any:
        """`value` with every intrinsic replaced by what it stands for in the emulator."""
        if isinstance(value, list):
            return [self.resolve(stack, v) for v in value]
        if not isinstance(value, Mapping):
            return value
        if len(value) != 1:
            return {k: self.resolve(stack, v) for k, v in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self._ref(stack, arg)
        if key == "Fn::GetAtt":
            logical_id, attribute = arg
            if attribute == "Arn" and (stack, logical_id) in self.arns:
                return self.arns[(stack, logical_id)]
            if (stack, logical_id, attribute) not in self.attributes:
                raise UnresolvedReference(f"{stack}: Fn::GetAtt {logical_id}.{attribute}")
            return self.attributes[(stack, logical_id, attribute)]
        if key == "Fn::Join":
            delimiter, items = arg
            return str(delimiter).join(str(self.resolve(stack, i)) for i in items)
        if key == "Fn::GetStackOutput":
            other = arg["StackName"]
            return self.resolve(other, self.stacks[other]["Outputs"][arg["OutputName"]]["Value"])
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(stack, items)[int(index)]
        if key == "Fn::Split":
            delimiter, text = arg
            return str(self.resolve(stack, text)).split(str(delimiter))
        return {key: self.resolve(stack, arg)}

    def _ref(self, stack: str, name: str) -> str:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if (stack, name) not in self.refs:
            raise UnresolvedReference(f"{stack}: Ref {name}")
        return self.refs[(stack, name)]
