"""How stack rules tell which resource a reference input points at.

pulumi-aws keeps many settings in resources of their own (`BucketVersioning.bucket`,
`WebAclAssociation.resourceArn`, `FlowLog.vpcId`, ...). A reference matches a target when the
input's property dependencies include the target's URN (works during preview, when names and
ARNs are not known yet) or when the input's value equals one of the target's identities (its
id, ARN, bucket name or name).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policy.model import Resource
from policy.values import UNKNOWN, as_list

IDENTITY_PROPS = ("id", "arn", "bucket", "name")


def identities(resource: Resource) -> set[str]:
    found = set()
    for key in IDENTITY_PROPS:
        value = resource.props.get(key)
        if isinstance(value, str) and value:
            found.add(value)
    return found


def refers_to(source: Resource, prop: str, target: Resource) -> bool:
    if target.urn and target.urn in source.property_dependencies.get(prop, ()):
        return True
    values = as_list(source.props.get(prop))
    if values is UNKNOWN:
        return False
    own = identities(target)
    return any(isinstance(value, str) and value in own for value in values)


def unresolved(source: Resource, prop: str) -> bool:
    """The reference can't be followed: its value is unknown and no dependency names a URN."""
    if source.property_dependencies.get(prop):
        return False
    value = source.props.get(prop)
    return value is UNKNOWN or (isinstance(value, list) and UNKNOWN in value)


def of_types(resources: Iterable[Resource], types: Sequence[str]) -> list[Resource]:
    return [resource for resource in resources if resource.type in types]


def referrers(
    resources: Iterable[Resource], types: Sequence[str], prop: str, target: Resource
) -> tuple[list[Resource], bool]:
    """The resources of `types` whose `prop` refers to `target`, and whether any of that type
    could not be resolved (then a missing referrer is "can't tell", not a violation)."""
    candidates = of_types(resources, types)
    matches = [candidate for candidate in candidates if refers_to(candidate, prop, target)]
    undecided = any(
        unresolved(candidate, prop) for candidate in candidates if candidate not in matches
    )
    return matches, undecided
