"""template.yaml as CloudFormation deploys it: the SAM transform applied by the SAM translator.

The local backend takes its principals from here: the roles SAM makes for each function and the
state machine, with the policy templates (S3ReadPolicy, LambdaInvokePolicy, ...) expanded, as AWS
would create them. Code and definition locations are replaced by placeholders first: the translator
wants S3 locations there, and the local backend reads the files itself.
"""

from __future__ import annotations

import copy
from typing import Any

import boto3

_PLACEHOLDER_LOCATIONS = {
    "CodeUri": "s3://nsclient-local/code.zip",
    "ContentUri": "s3://nsclient-local/layer.zip",
    "DefinitionUri": "s3://nsclient-local/definition.json",
}


class _NoManagedPolicyNames:
    """The translator asks for a map of managed policy names only for policies given by name,
    which template.yaml does not use; the map would come from IAM (an AWS call)."""

    def load(self) -> dict[str, str]:
        return {}


def expand(template: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    """The SAM template translated to plain CloudFormation (intrinsics left for the Resolver)."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

    document = copy.deepcopy(template)
    for resource in document.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for key, placeholder in _PLACEHOLDER_LOCATIONS.items():
            if key in properties:
                properties[key] = placeholder
    values: dict[str, Any] = dict(parameters)
    to_py27_compatible_template(document, values)
    # The translator reads the region (for pseudo parameters) from a boto session: give it one.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    expanded = translator.translate(
        document, parameter_values=values, get_managed_policy_map=_NoManagedPolicyNames().load
    )
    result: dict[str, Any] = undo_mark_unicode_str_in_template(expanded)
    return result
